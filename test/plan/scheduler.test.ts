import { describe, expect, it } from "vitest";
import { shardFromEnvironment, shardName } from "../../src/plan/scheduler.js";
import { parseShard } from "../../src/plan/shard.js";

const auto = (env: Record<string, string>, count?: number) => shardFromEnvironment(count === undefined ? { auto: true } : { auto: true, count }, env);

/** The environment Slurm gives each task of `--array=FIRST-LAST:STEP` (sbatch(1), "OUTPUT ENVIRONMENT VARIABLES"). */
function slurmArray(first: number, last: number, step = 1): Record<string, string>[] {
    const ids: number[] = [];
    for (let id = first; id <= last; id += step) ids.push(id);
    return ids.map((id) => ({
        SLURM_ARRAY_JOB_ID: "77", SLURM_ARRAY_TASK_ID: String(id), SLURM_ARRAY_TASK_MIN: String(first),
        SLURM_ARRAY_TASK_MAX: String(ids.at(-1)), SLURM_ARRAY_TASK_STEP: String(step), SLURM_ARRAY_TASK_COUNT: String(ids.length),
    }));
}

describe("--shard auto reads the scheduler's variables", () => {
    it("Slurm: the shard is the task's position in the array, whatever its first id and step", () => {
        for (const [first, last, step] of [[0, 7, 1], [1, 8, 1], [0, 14, 2], [5, 17, 3], [3, 3, 1]] as const) {
            const tasks = slurmArray(first, last, step);
            expect(tasks.map((env) => auto(env)), `${first}-${last}:${step}`).toEqual(tasks.map((_, k) => ({ index: k, count: tasks.length })));
        }
    });

    it("Slurm: an id outside MIN-MAX is refused, not taken for a shard", () => {
        const env = { SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "4", SLURM_ARRAY_TASK_STEP: "1", SLURM_ARRAY_TASK_COUNT: "4" };
        for (const id of ["0", "5"]) expect(() => auto({ ...env, SLURM_ARRAY_TASK_ID: id }), id).toThrow(/is outside the array \(1-4\)/);
    });

    it("Slurm: an array of listed ids (--array=1,3,7) is refused, as its ids do not say a place", () => {
        const env = { SLURM_ARRAY_TASK_ID: "3", SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "7", SLURM_ARRAY_TASK_STEP: "1", SLURM_ARRAY_TASK_COUNT: "3" };
        expect(() => auto(env)).toThrow(/not an evenly spaced range/);
    });

    it("Kubernetes gives only an index: auto/N is needed, and N must cover the index", () => {
        expect(auto({ JOB_COMPLETION_INDEX: "5" }, 8)).toEqual({ index: 5, count: 8 });
        expect(() => auto({ JOB_COMPLETION_INDEX: "5" })).toThrow("--shard auto: Kubernetes gives no task count (JOB_COMPLETION_INDEX): give --shard auto/N");
        expect(() => auto({ JOB_COMPLETION_INDEX: "8" }, 8)).toThrow(/task 8 .* is not one of 8/);
    });

    it("AWS Batch, Google Batch and Cloud Run give index and count", () => {
        expect(auto({ AWS_BATCH_JOB_ARRAY_INDEX: "2", AWS_BATCH_JOB_ARRAY_SIZE: "10" })).toEqual({ index: 2, count: 10 });
        expect(auto({ BATCH_TASK_INDEX: "0", BATCH_TASK_COUNT: "3" })).toEqual({ index: 0, count: 3 });
        expect(auto({ CLOUD_RUN_TASK_INDEX: "4", CLOUD_RUN_TASK_COUNT: "5" })).toEqual({ index: 4, count: 5 });
    });

    it("auto/N must agree with a count the environment gives", () => {
        expect(auto({ AWS_BATCH_JOB_ARRAY_INDEX: "2", AWS_BATCH_JOB_ARRAY_SIZE: "10" }, 10)).toEqual({ index: 2, count: 10 });
        expect(() => auto({ AWS_BATCH_JOB_ARRAY_INDEX: "2", AWS_BATCH_JOB_ARRAY_SIZE: "10" }, 8)).toThrow("--shard auto/8: AWS Batch says the array has 10 tasks");
    });

    it("none set, or two that disagree: refused with one line naming what was looked for", () => {
        let message = "";
        try {
            auto({ HOME: "/root" });
        } catch (error) {
            message = (error as Error).message;
        }
        expect(message.split("\n")).toHaveLength(1);
        for (const name of ["SLURM_ARRAY_TASK_ID", "JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX", "BATCH_TASK_INDEX", "CLOUD_RUN_TASK_INDEX"]) expect(message).toContain(name);
        expect(() => auto({ BATCH_TASK_INDEX: "1", BATCH_TASK_COUNT: "4", CLOUD_RUN_TASK_INDEX: "2", CLOUD_RUN_TASK_COUNT: "4" })).toThrow(/Google Batch \(task 1 of 4\) and Cloud Run \(task 2 of 4\) disagree/);
        expect(() => auto({ BATCH_TASK_INDEX: "1", BATCH_TASK_COUNT: "4", CLOUD_RUN_TASK_INDEX: "1", CLOUD_RUN_TASK_COUNT: "5" })).toThrow(/disagree/);
        // two that agree are one
        expect(auto({ BATCH_TASK_INDEX: "1", BATCH_TASK_COUNT: "4", JOB_COMPLETION_INDEX: "1" })).toEqual({ index: 1, count: 4 });
        expect(() => auto({ JOB_COMPLETION_INDEX: "x1" }, 4)).toThrow("JOB_COMPLETION_INDEX=x1 is not a whole number");
    });

    it("parses K/N, auto and auto/N", () => {
        expect([parseShard("2/8"), parseShard("auto"), parseShard("auto/16")]).toEqual([{ index: 2, count: 8 }, { auto: true }, { auto: true, count: 16 }]);
        for (const bad of ["8/8", "auto/0", "auto/", "automatic", "-1/4"]) expect(() => parseShard(bad), bad).toThrow();
    });
});

describe("-o names a shard's part with {shard} and {shards}", () => {
    it("the shard zero-padded to the width of the last (N - 1), so that the parts list in order", () => {
        expect(shardName("out/part-{shard}-of-{shards}.jsonl", { index: 3, count: 8 })).toBe("out/part-3-of-8.jsonl");
        expect(shardName("out/part-{shard}-of-{shards}.jsonl", { index: 3, count: 16 })).toBe("out/part-03-of-16.jsonl");
        expect(shardName("p{shard}.csv", { index: 7, count: 1000 })).toBe("p007.csv");
        expect(shardName("plain.jsonl", { index: 1, count: 2 })).toBe("plain.jsonl");
        expect(() => shardName("part-{shard}.jsonl", undefined)).toThrow(/give --shard K\/N or --shard auto/);
    });
});
