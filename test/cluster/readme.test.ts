import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { dataset, newDir, runBuiltCli, runInProcess, tinyModel, uninterruptedOutput } from "../helpers.js";
import { readmeBlock } from "./readme.js";

/** The README's command for a container, with /data/ as `folder` and nemoreward as the built CLI. */
function readmeCommand(command: string[], folder: string): string[] {
    expect(command[0]).toBe("nemoreward");
    return command.slice(1).map((arg) => arg.replaceAll("/data/", `${folder}/`));
}

const rows = 48;
const input = (folder: string) => {
    mkdirSync(join(folder, "out"));
    writeFileSync(join(folder, "input.jsonl"), dataset(rows));
    return join(folder, "input.jsonl");
};
const env = { NEMOREWARD_MODEL: tinyModel, NEMOREWARD_THREADS: "1" };

describe("the README's cluster examples", () => {
    it("Kubernetes Indexed Job: its command, every index run twice at once (a replacement pod), merges to one run; its podFailurePolicy codes are the do-not-retry codes", async () => {
        const yaml = readmeBlock("kubernetes-job");
        const completions = Number(/completions: (\d+)/.exec(yaml)![1]);
        const command = JSON.parse(/command: (\[.*\])/.exec(yaml)![1]!) as string[];
        expect(command).toContain(`auto/${completions}`);
        expect(/podReplacementPolicy: Failed/.test(yaml)).toBe(true);
        expect(JSON.parse(/onExitCodes: \{.*values: (\[[\d, ]+\])/.exec(yaml)![1]!)).toEqual([exitCodes.usage, exitCodes.someRowsFailed]);

        const folder = newDir("readme-kubernetes");
        const source = input(folder);
        const args = readmeCommand(command, folder);
        const runs = await Promise.all(Array.from({ length: completions }, (_, k) => [0, 1].map(() =>
            runBuiltCli(args, "", { ...env, JOB_COMPLETION_INDEX: String(k) }))).flat());
        for (const run of runs) expect([exitCodes.ok, exitCodes.busy], run.stderr).toContain(run.code);
        expect(readdirSync(join(folder, "out")).filter((f) => f.endsWith(".jsonl"))).toHaveLength(completions);
        const merged = join(folder, "scored.jsonl");
        expect((await runInProcess(["merge", merged, join(folder, "out")])).code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(await uninterruptedOutput(source)());
    });

    it("AWS Batch array job: its command with the variables AWS Batch sets merges to one run; its retry strategy exits on the do-not-retry codes", async () => {
        const block = readmeBlock("aws-batch").replace(/\\\n/g, " ");
        const size = Number(/--array-properties size=(\d+)/.exec(block)![1]);
        const overrides = JSON.parse(/--container-overrides '(.*?)'/.exec(block)![1]!) as { command: string[] };
        const strategy = JSON.parse(/--retry-strategy '(.*?)'/.exec(block)![1]!) as { evaluateOnExit: { onExitCode: string; action: string }[] };
        expect(strategy.evaluateOnExit.filter((e) => e.action === "EXIT").map((e) => Number(e.onExitCode))).toEqual([exitCodes.usage, exitCodes.someRowsFailed]);

        const folder = newDir("readme-aws");
        const source = input(folder);
        const args = readmeCommand(overrides.command, folder);
        const runs = await Promise.all(Array.from({ length: size }, (_, k) =>
            runBuiltCli(args, "", { ...env, AWS_BATCH_JOB_ARRAY_INDEX: String(k), AWS_BATCH_JOB_ARRAY_SIZE: String(size) })));
        for (const run of runs) expect(run.code, run.stderr).toBe(0);
        const merged = join(folder, "scored.jsonl");
        expect((await runInProcess(["merge", merged, join(folder, "out")])).code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(await uninterruptedOutput(source)());
    });
});

