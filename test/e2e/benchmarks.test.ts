import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { referenceRmBench, referenceV2 } from "../eval/reference.js";
import { rmRecords, v2Records } from "../eval/fixtures.js";
import { duckParquet, jsonl, newDir, parseJsonl, referenceRewards, repoRoot, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = newDir("benchmarks");
const rewardOf = referenceRewards();

const v2Reference = (records: ReturnType<typeof v2Records>) =>
    referenceV2(records.map((r) => ({ id: r.id, subset: r.subset, num_correct: r.num_correct, scores: [...r.chosen, ...r.rejected].map((a) => rewardOf(r.prompt, a)) })));
const rmReference = (records: ReturnType<typeof rmRecords>) =>
    referenceRmBench(records.map((r) => ({ domain: r.domain, chosen: r.chosen.map((a) => rewardOf(r.prompt, a)), rejected: r.rejected.map((a) => rewardOf(r.prompt, a)) })));

describe("eval of RewardBench 2", () => {
    const records = v2Records(6);
    const folder = join(tmp, "reward-bench-2", "data");

    it("reads the dataset folder's Parquet shards, tells the benchmark, and matches the reference formula on the reference rewards", async () => {
        mkdirSync(folder, { recursive: true });
        const half = Math.ceil(records.length / 2);
        for (const [i, part] of [records.slice(0, half), records.slice(half)].entries()) {
            const source = join(tmp, `part${i}.jsonl`);
            writeFileSync(source, jsonl(part));
            await duckParquet(join(folder, `test-0000${i}-of-00002.parquet`), `SELECT * FROM read_json_auto('${source}')`);
        }
        const perRow = join(tmp, "v2-rows.jsonl");
        const { code, stdout } = await runInProcess(["eval", folder, "-m", tinyModel, "--precise", "--json", "--per-row", perRow]);
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        const expected = v2Reference(records);
        expect(report).toMatchObject({ benchmark: "RewardBench 2", rows: records.length, errors: 0, missing: [], max_tokens: null });
        for (const [name, score] of Object.entries(expected.subsets)) expect(report.subsets[name].score).toBeCloseTo(score, 4);
        expect(report.overall).toBeCloseTo(expected.overall!, 4);
        // every response's reward, chosen first
        const rows = parseJsonl(readFileSync(perRow, "utf8"));
        expect(rows).toHaveLength(records.length);
        rows.forEach((row, i) => {
            expect(row.reward_chosen).toHaveLength(records[i]!.chosen.length);
            expect(row.reward_rejected[0]).toBeCloseTo(rewardOf(records[i]!.prompt, records[i]!.rejected[0]!), 4);
        });
        // an answer repeated word for word gets exactly the chosen answer's reward: an exact tie
        records.forEach((r, i) => {
            if (r.subset !== "Ties" && r.rejected[1] === r.chosen[0]) expect(rows[i]!.reward_rejected[1]).toBe(rows[i]!.reward_chosen[0]);
        });

        // the per-row output evaluated again: the same report, without a model (none is given, and none is found)
        const again = await runBuiltCli(["eval", perRow, "--json"], undefined, { NEMOREWARD_MODEL: join(tmp, "no-such-model.gguf") });
        expect(again.code, again.stderr).toBe(0);
        expect(JSON.parse(again.stdout)).toEqual(report);
        expect(again.stderr).toMatch(/the input holds scored rows/);
        // with -m, the rows are scored again by that model
        const rescored = await runInProcess(["eval", perRow, "-m", tinyModel, "--json"]);
        expect(rescored.code).toBe(0);
        expect(rescored.stderr).not.toMatch(/the input holds scored rows/);
        expect(rescored.stderr).toMatch(/evaluated \d+ of \d+ rows/);
        expect(JSON.parse(rescored.stdout)).toMatchObject({ benchmark: "RewardBench 2", rows: records.length });
    });

    it("prints the leaderboard's columns; a missing subset is named and leaves no overall; --max-tokens is said", async () => {
        const noTies = join(tmp, "no-ties.jsonl");
        writeFileSync(noTies, jsonl(records.filter((r) => r.subset !== "Ties")));
        const { code, stdout } = await runInProcess(["eval", noTies, "-m", tinyModel, "--max-tokens", "20"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^RewardBench 2: \d+ rows; each conversation cut to 20 tokens \(--max-tokens\)$/m);
        expect(stdout).toMatch(/^\s+Score\s+Factuality\s+Precise IF\s+Math\s+Safety\s+Focus\s+Ties$/m);
        expect(stdout).toMatch(/^this run\s+—(\s+\d+\.\d){5}\s+—$/m);
        expect(stdout).toMatch(/not in the input: Ties, so no overall/);
        const json = JSON.parse((await runInProcess(["eval", noTies, "-m", tinyModel, "--max-tokens", "20", "--json"])).stdout);
        expect(json).toMatchObject({ max_tokens: 20, overall: null, missing: ["Ties"] });
    });
});

describe("eval of RM-Bench", () => {
    const records = rmRecords(5);

    it("the whole file and the five per-domain files (which call the field `subset`) give one report, the reference's", async () => {
        const total = join(tmp, "total_dataset.json");
        writeFileSync(total, JSON.stringify(records, null, 2));
        const domainFiles = ["chat", "code", "math", "safety-refuse", "safety-response"].map((domain) => {
            const path = join(tmp, `${domain}_filtered.json`);
            writeFileSync(path, JSON.stringify(records.filter((r) => r.domain === domain).map(({ domain: subset, ...rest }) => ({ ...rest, subset }))));
            return path;
        });
        const whole = await runInProcess(["eval", total, "-m", tinyModel, "--precise", "--json"]);
        expect(whole.code).toBe(0);
        const report = JSON.parse(whole.stdout);
        const expected = rmReference(records);
        expect(report).toMatchObject({ benchmark: "RM-Bench", rows: records.length, missing: [] });
        expect(Object.keys(report.domains)).toEqual(["chat", "math", "code", "safety"]);
        for (const [name, d] of Object.entries(expected.domains)) {
            expect(report.domains[name].score).toBeCloseTo(d.score, 4);
            expect(report.domains[name].hard).toBeCloseTo(d.hard, 4);
        }
        expect(report.overall).toBeCloseTo(expected.overall!, 4);
        const parts = await runInProcess(["eval", ...domainFiles, "-m", tinyModel, "--precise", "--json"]);
        expect(JSON.parse(parts.stdout)).toEqual(report);
    });

    it("--compare published: the model cards' rows beside this run, with the difference and the source", async () => {
        const total = join(tmp, "total_dataset.json");
        const { code, stdout } = await runInProcess(["eval", total, "-m", tinyModel, "--compare", "published"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/^\s+Chat\s+Math\s+Code\s+Safety\s+Easy\s+Normal\s+Hard\s+Avg$/m);
        expect(stdout).toMatch(/^Llama-3\.1-Nemotron-70B-Reward \(published\)\s+70\.7\s+64\.3\s+57\.4\s+90\.3\s+—\s+—\s+—\s+70\.7$/m);
        expect(stdout).toMatch(/^Llama-3\.3-Nemotron-70B-Reward \(published\)\s+75\.4\s+84\.5\s+69\.3\s+90\.4\s+—\s+—\s+—\s+79\.9$/m);
        const json = JSON.parse((await runInProcess(["eval", total, "-m", tinyModel, "--compare", "published", "--json"])).stdout);
        const chat = 100 * json.domains.chat.score;
        expect(json.published.rows[0].difference.Chat).toBeCloseTo(chat - 70.7, 10);
        expect(json.published.source).toMatch(/model card/);
    });
});

describe("eval survives an interruption", () => {
    it("an eval SIGKILLed mid-way and resumed with --resume gives the report of an uninterrupted run", async () => {
        const input = join(tmp, "resume-v2.jsonl");
        writeFileSync(input, jsonl(v2Records(40, 9)));
        const whole = await runBuiltCli(["eval", input, "-m", tinyModel, "-q", "--json", "--per-row", join(tmp, "whole-rows.jsonl")]);
        expect(whole.code).toBe(0);
        const perRow = join(tmp, "resumed-rows.jsonl");
        const args = ["eval", input, "-m", tinyModel, "-q", "--json", "--per-row", perRow, "--resume"];
        await new Promise<void>((resolve, reject) => {
            const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { stdio: "ignore" });
            const timer = setInterval(() => {
                if (existsSync(perRow) && statSync(perRow).size >= 8_000) child.kill("SIGKILL");
            }, 5);
            child.on("exit", (code, signal) => {
                clearInterval(timer);
                if (signal === "SIGKILL") resolve();
                else reject(new Error(`the run ended by itself (${code}) before it could be killed`));
            });
        });
        const partial = readFileSync(perRow, "utf8");
        expect(partial.length).toBeLessThan(readFileSync(join(tmp, "whole-rows.jsonl"), "utf8").length);
        const resumed = await runBuiltCli(args);
        expect(resumed.code).toBe(0);
        expect(JSON.parse(resumed.stdout)).toEqual(JSON.parse(whole.stdout));
        expect(readFileSync(perRow, "utf8")).toBe(readFileSync(join(tmp, "whole-rows.jsonl"), "utf8"));
    });

    it("shards: each part scored with --shard K/N --per-row, merged, then eval of the merged rows reports without the model", async () => {
        const input = join(tmp, "shards-rm.jsonl");
        const records = rmRecords(4, 13);
        writeFileSync(input, jsonl(records));
        const parts = [0, 1].map((k) => join(tmp, `rm-part-${k}.jsonl`));
        for (const k of [0, 1]) expect((await runInProcess(["eval", input, "-m", tinyModel, "-q", "--precise", "--shard", `${k}/2`, "--per-row", parts[k]!])).code).toBe(0);
        const merged = join(tmp, "rm-merged.jsonl");
        const merge = await runInProcess(["merge", merged, ...parts]);
        expect(merge.stderr).toMatch(/merged 20 rows from 2 shards/);
        expect(merge.code).toBe(0);
        const report = JSON.parse((await runInProcess(["eval", merged, "--json"])).stdout);
        expect(report.rows).toBe(records.length);
        expect(report.overall).toBeCloseTo(rmReference(records).overall!, 4);
    });
});

describe("eval resumed from a CSV --per-row file", () => {
    it("a file cut after its 4th recorded row (as a killed run leaves it) is finished by --resume: the same bytes and the same RM-Bench report", async () => {
        const { truncateSync } = await import("node:fs");
        const input = join(tmp, "rm-resume.json");
        writeFileSync(input, JSON.stringify(rmRecords(2, 23)));
        const perRow = join(tmp, "rm-resume-rows.csv");
        const args = ["eval", input, "-m", tinyModel, "-q", "--json", "--per-row", perRow, "--resume"];
        const whole = await runInProcess(args);
        expect(whole.code).toBe(0);
        const bytes = readFileSync(perRow, "utf8");
        const record = readFileSync(`${perRow}.resume`, "utf8").split("\n");
        // the record: a header line, then "HASH END CRC" per row
        const end = Number(record[4]!.split(" ")[1]);
        truncateSync(perRow, end);
        writeFileSync(`${perRow}.resume`, record.slice(0, 5).join("\n") + "\n");
        const resumed = await runInProcess(args);
        expect(resumed.code).toBe(0);
        expect(readFileSync(perRow, "utf8")).toBe(bytes);
        expect(JSON.parse(resumed.stdout)).toEqual(JSON.parse(whole.stdout));
        expect(JSON.parse(whole.stdout)).toMatchObject({ benchmark: "RM-Bench", rows: 10 });
        // and the CSV file itself, reported on without the model: lists and empty error cells read back as the run wrote them
        const fromCsv = await runInProcess(["eval", perRow, "--json"]);
        expect(fromCsv.code, fromCsv.stderr).toBe(0);
        expect(JSON.parse(fromCsv.stdout)).toEqual(JSON.parse(whole.stdout));
    });
});
