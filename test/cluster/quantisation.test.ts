import { spawnSync } from "node:child_process";
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rmRecords, v2Records } from "../eval/fixtures.js";
import { cli, duckParquet, jsonl, newDir, tinyModel } from "../helpers.js";
import { readmeBlock } from "./readme.js";

describe("the README's \"How good is my quantisation?\"", () => {
    it("downloads the three datasets by their names; its commands, run as written on files laid out as the download lays them out, report each benchmark", async () => {
        const download = readmeBlock("quantisation-download");
        for (const name of ["allenai/reward-bench-2", "THU-KEG/RM-Bench", "allenai/reward-bench"])
            expect(download).toMatch(new RegExp(`^hf download ${name} --repo-type dataset --local-dir \\S+$`, "m"));
        expect(download).toMatch(/^MODEL=\$\(nemoreward pull \w+\)$/m);

        // the datasets' files, as `hf download ... --local-dir` leaves them
        const folder = newDir("readme-quantisation");
        mkdirSync(join(folder, "reward-bench-2", "data"), { recursive: true });
        mkdirSync(join(folder, "RM-Bench", "data"), { recursive: true });
        mkdirSync(join(folder, "reward-bench", "data"), { recursive: true });
        const v2 = join(folder, "v2.jsonl");
        writeFileSync(v2, jsonl(v2Records(2)));
        await duckParquet(join(folder, "reward-bench-2", "data", "test-00000-of-00001.parquet"), `SELECT * FROM read_json_auto('${v2}')`);
        const rm = rmRecords(2);
        writeFileSync(join(folder, "RM-Bench", "data", "total_dataset.json"), JSON.stringify(rm));
        for (const domain of ["chat", "code", "math", "safety-refuse", "safety-response"])
            writeFileSync(join(folder, "RM-Bench", "data", `${domain}_filtered.json`), JSON.stringify(rm.filter((r) => r.domain === domain).map(({ domain: subset, ...r }) => ({ ...r, subset }))));
        const pairs = [
            { prompt: "2+2?", chosen: "4", chosen_model: "a", rejected: "5", rejected_model: "b", subset: "alpacaeval-easy", id: 1 },
            { prompt: "Capital of France?", chosen: "Paris.", chosen_model: "a", rejected: "Lyon", rejected_model: "b", subset: "math-prm", id: 2 },
        ];
        const v1 = join(folder, "v1.jsonl");
        writeFileSync(v1, jsonl(pairs));
        await duckParquet(join(folder, "reward-bench", "data", "filtered-00000-of-00001.parquet"), `SELECT * FROM read_json_auto('${v1}')`);
        await duckParquet(join(folder, "reward-bench", "data", "raw-00000-of-00001.parquet"), `SELECT * FROM read_json_auto('${v1}') UNION ALL SELECT * FROM read_json_auto('${v1}')`);

        // `nemoreward` on the PATH is the built CLI; $MODEL is what `pull` printed
        const bin = join(folder, "bin");
        mkdirSync(bin);
        writeFileSync(join(bin, "nemoreward"), `#!/bin/sh\nexec "${process.execPath}" "${cli}" "$@"\n`);
        chmodSync(join(bin, "nemoreward"), 0o755);
        const run = spawnSync("bash", ["-e", "-c", readmeBlock("quantisation-eval")], {
            cwd: folder, encoding: "utf8",
            env: { ...process.env, PATH: `${bin}:${process.env["PATH"]}`, MODEL: tinyModel, NEMOREWARD_THREADS: "1" },
        });
        expect(run.status, run.stderr).toBe(0);
        const report = (name: string) => JSON.parse(readFileSync(join(folder, name), "utf8"));
        expect(report("rb2-Q4_K_M.json")).toMatchObject({ benchmark: "RewardBench 2", rows: v2Records(2).length, max_tokens: 2048, missing: [] });
        expect(report("rmbench-Q4_K_M.json")).toMatchObject({ benchmark: "RM-Bench", rows: rm.length, max_tokens: null, missing: [] });
        expect(report("rb-Q4_K_M.json")).toMatchObject({ benchmark: "RewardBench", rows: pairs.length });
        // check, then the three tables with the published rows
        expect(run.stdout).toMatch(/^not the reward model/m);
        expect(run.stdout).toMatch(/^RewardBench 2: \d+ rows; each conversation cut to 2048 tokens/m);
        expect(run.stdout).toMatch(/^Llama-3\.1-Nemotron-70B-Reward \(published\)(\s+[\d.]+){4}(\s+—){3}\s+70\.7$/m);
        expect(run.stdout).toMatch(/^Llama-3\.1-Nemotron-70B-Reward \(bf16\) \(published\)\s+94\.1\s+97\.5\s+85\.8\s+95\.1\s+98\.1$/m);
        expect(run.stdout).toMatch(/^published: none: no RewardBench 2 numbers/m);
    });
});
