import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { duck } from "../duckdb.js";
import { cli, dataset, newDir, parseJsonl, runBuiltCli, runInProcess, tinyModel, uninterruptedOutput } from "../helpers.js";
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


describe("the README's cleaning job, start to finish", () => {
    it("runs every command of its block as written: shards merge to one run, filter partitions the rows, SFT and DPO files hold the best and worst of each prompt", { timeout: 300_000 }, async () => {
        const folder = newDir("readme-cleaning");
        // best-of-3 samples: a row per response, each prompt's rows together
        const samples = dataset(48).trim().split("\n").map((line) => {
            const { id, prompt, response } = JSON.parse(line) as { id: number; prompt: string; response: string };
            return JSON.stringify({ prompt_id: `q${Math.floor(id / 3)}`, sample_idx: id % 3, prompt, response });
        }).join("\n") + "\n";
        writeFileSync(join(folder, "samples.jsonl"), samples);
        // `nemoreward` on PATH, as after `npm install -g .`: the built CLI
        mkdirSync(join(folder, "bin"));
        writeFileSync(join(folder, "bin", "nemoreward"), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`, { mode: 0o755 });
        const run = spawnSync("bash", ["-e", "-c", readmeBlock("cleaning-job")],
            { cwd: folder, encoding: "utf8", env: { ...process.env, ...env, PATH: `${join(folder, "bin")}:${process.env["PATH"]}` } });
        expect(run.status, run.stderr).toBe(0);

        // 1. the merged shards are what one unsharded run writes
        const scoredText = readFileSync(join(folder, "scored.jsonl"), "utf8");
        expect(scoredText).toBe(await uninterruptedOutput(join(folder, "samples.jsonl"))());
        const scored = scoredText.trim().split("\n");
        const reward = (line: string) => JSON.parse(line).reward as number;
        // 2. every row kept or dropped, with why; kept rows byte for byte
        const keptLines = scored.filter((line) => reward(line) >= -1.9);
        const dropped = parseJsonl(readFileSync(join(folder, "dropped.jsonl"), "utf8"));
        expect(keptLines.length).toBeGreaterThan(0);
        expect(dropped.length).toBeGreaterThan(0); // the data make the filter drop rows: the check is of something
        expect(readFileSync(join(folder, "clean.jsonl"), "utf8")).toBe(keptLines.join("\n") + "\n");
        expect(dropped.map((r) => [r.prompt_id, r.sample_idx, r.dropped])).toEqual(scored.filter((line) => reward(line) < -1.9)
            .map((line) => [JSON.parse(line).prompt_id, JSON.parse(line).sample_idx, "reward below --min-reward -1.9"]));
        // the kept rows of each prompt, in order
        const groups = new Map<string, Record<string, any>[]>();
        for (const row of keptLines.map((line) => JSON.parse(line) as Record<string, any>)) groups.set(row.prompt_id, [...groups.get(row.prompt_id) ?? [], row]);
        const best = (rows: Record<string, any>[]) => rows.reduce((a, b) => (b.reward > a.reward ? b : a));
        const worst = (rows: Record<string, any>[]) => rows.reduce((a, b) => (b.reward < a.reward ? b : a));
        // 3. SFT: the best of each prompt, in Parquet
        const sft = await duck(`SELECT prompt_id, sample_idx, response, reward FROM '${join(folder, "sft.parquet")}'`);
        expect(sft).toEqual([...groups.values()].map(best).map((r) => ({ prompt_id: r.prompt_id, sample_idx: String(r.sample_idx), response: r.response, reward: r.reward })));
        // 4. DPO, conversational, in Parquet: best against worst where they are at least 0.1 apart
        const paired = [...groups.values()].filter((rows) => best(rows).reward - worst(rows).reward >= 0.1);
        expect(paired.length).toBeGreaterThan(0);
        expect(paired.length).toBeLessThan(groups.size); // --min-margin drops some: the check is of something
        const dpo = await duck(`SELECT to_json(prompt) AS prompt, to_json(chosen) AS chosen, to_json(rejected) AS rejected, reward_chosen, reward_rejected,
            margin, prompt_id, chosen_sample_idx, rejected_sample_idx FROM '${join(folder, "dpo.parquet")}'`);
        const json = (value: unknown) => (typeof value === "string" ? JSON.parse(value) : value);
        expect(dpo.map((r) => ({ ...r, prompt: json(r.prompt), chosen: json(r.chosen), rejected: json(r.rejected) }))).toEqual(paired.map((rows) => ({
            prompt: [{ role: "user", content: rows[0]!.prompt }],
            chosen: [{ role: "assistant", content: best(rows).response }],
            rejected: [{ role: "assistant", content: worst(rows).response }],
            reward_chosen: best(rows).reward, reward_rejected: worst(rows).reward, margin: best(rows).reward - worst(rows).reward,
            prompt_id: rows[0]!.prompt_id, chosen_sample_idx: String(best(rows).sample_idx), rejected_sample_idx: String(worst(rows).sample_idx),
        })));
        // 5. the same pairs as strings, in JSONL
        const standard = parseJsonl(readFileSync(join(folder, "dpo-standard.jsonl"), "utf8"));
        expect(standard.map((r) => [r.prompt, r.chosen, r.rejected, r.prompt_id])).toEqual(paired.map((rows) => [rows[0]!.prompt, best(rows).response, worst(rows).response, rows[0]!.prompt_id]));
    });
});
