import { copyFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonl, newDir, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

// eval's report on rows: what it says about how they were scored, its exit code and its counts
const dir = newDir("eval-report");
const pairs = [
    { prompt: "Capital of France?", chosen: "Paris.", rejected: "Lyon", subset: "alpacaeval-easy" },
    { prompt: "2+2?", chosen: "4", rejected: "5", subset: "math-prm" },
];

describe("eval of an earlier --per-row file (no model)", () => {
    it("--max-tokens is refused (exit 2): the rows were scored already; the report gives the cut the .resume record names, or unknown", async () => {
        const input = join(dir, "mt.jsonl"), perRow = join(dir, "mt-rows.jsonl");
        writeFileSync(input, jsonl(pairs));
        expect((await runInProcess(["eval", input, "-m", tinyModel, "--threads", "1", "--max-tokens", "256", "--per-row", perRow, "--json"])).code).toBe(0);

        const refused = await runBuiltCli(["eval", perRow, "--max-tokens", "512", "--json"]);
        expect(refused.code).toBe(2);
        expect(refused.stdout).toBe("");
        expect(refused.stderr).toMatch(/--max-tokens/);

        const again = await runBuiltCli(["eval", perRow, "--json"]);
        expect(again.code).toBe(0);
        expect(JSON.parse(again.stdout).max_tokens).toBe(256);
        const table = await runBuiltCli(["eval", perRow]);
        expect(table.stdout).toMatch(/cut to 256 tokens/);

        // the same rows without their record: how they were cut is not known
        const bare = join(dir, "bare.jsonl");
        copyFileSync(perRow, bare);
        expect(JSON.parse((await runBuiltCli(["eval", bare, "--json"])).stdout).max_tokens).toBe("unknown");
        expect((await runBuiltCli(["eval", bare, "--max-tokens", "256"])).code).toBe(2);
    });

    it("several --per-row files: the cut they share is reported; files cut differently are refused (exit 2), one report cannot say how", async () => {
        const input = join(dir, "two.jsonl"), cut = join(dir, "two-256.jsonl"), cut2 = join(dir, "two-256b.jsonl"), whole = join(dir, "two-whole.jsonl");
        writeFileSync(input, jsonl(pairs));
        for (const [perRow, extra] of [[cut, ["--max-tokens", "256"]], [cut2, ["--max-tokens", "256"]], [whole, []]] as const)
            expect((await runInProcess(["eval", input, "-m", tinyModel, "--threads", "1", ...extra, "--per-row", perRow, "--json"])).code).toBe(0);
        const same = await runBuiltCli(["eval", cut, cut2, "--json"]);
        expect(same.code).toBe(0);
        expect(JSON.parse(same.stdout)).toMatchObject({ rows: 4, max_tokens: 256 });
        const mixed = await runBuiltCli(["eval", cut, whole, "--json"]);
        expect(mixed.code).toBe(2);
        expect(mixed.stdout).toBe("");
        expect(mixed.stderr).toMatch(/cut differently/);
    });

    it("rows that hold errors: exit 3 like the run that scored them, and the summary line counts them", async () => {
        const input = join(dir, "err.jsonl"), perRow = join(dir, "err-rows.jsonl");
        writeFileSync(input, jsonl([...pairs, { prompt: "p", chosen: "a", rejected: null, subset: "alpacaeval-easy" }]));
        const scored = await runInProcess(["eval", input, "-m", tinyModel, "--threads", "1", "--per-row", perRow, "--json"]);
        expect(scored.code).toBe(3);
        const again = await runBuiltCli(["eval", perRow, "--json"]);
        expect(again.code).toBe(3);
        expect(JSON.parse(again.stdout)).toMatchObject({ rows: 2, errors: 1 });
        expect(again.stderr).toMatch(/evaluated 2 of 3 rows \(1 not\)/);
        expect(again.stderr).toMatch(/"rejected" is null/);
    });
});

describe("eval: rows that do not fit the benchmark", () => {
    // RewardBench v1 rows with their rewards (an earlier --per-row output)
    const v1 = [
        { prompt: "p", chosen: "a", rejected: "b", subset: "alpacaeval-easy", reward_chosen: 1, reward_rejected: 0 },
        { prompt: "p", chosen: "a", rejected: "b", subset: "alpacaeval-easy", reward_chosen: 0, reward_rejected: 1 },
        { prompt: "p", chosen: "a", rejected: "b", subset: "math-prm", reward_chosen: 2, reward_rejected: 1 },
    ];
    // RewardBench 2 rows (lists of answers)
    const v2 = [0, 1].map((i) => ({ id: String(i), prompt: `q${i}`, chosen: ["good"], rejected: ["bad", "worse", "worst"], num_correct: 1,
        subset: "Factuality", reward_chosen: [-1], reward_rejected: [-1.5, -2, -3] }));

    it("--benchmark v2 on RewardBench v1 rows: each is not fitting, named by its subset, none scored into a made-up subset; exit 3", async () => {
        const file = join(dir, "v1.jsonl");
        writeFileSync(file, jsonl(v1));
        const { code, stdout, stderr } = await runBuiltCli(["eval", file, "--benchmark", "v2", "--json"]);
        expect(code).toBe(3);
        const report = JSON.parse(stdout);
        expect(report).toMatchObject({ benchmark: "RewardBench 2", rows: 0, not_fitting: 3 });
        expect(report.subsets).toEqual({});
        expect(report.not_fitting_reasons).toEqual({
            'subset "alpacaeval-easy" is not one of RewardBench 2\'s': 2, 'subset "math-prm" is not one of RewardBench 2\'s': 1,
        });
        expect(stderr).toMatch(/no row fits RewardBench 2/);
        const table = await runBuiltCli(["eval", file, "--benchmark", "v2"]);
        expect(table.code).toBe(3);
        expect(table.stdout).toMatch(/alpacaeval-easy/);
        expect(table.stdout).not.toMatch(/1 rows/);
        expect(table.stdout).toMatch(/no row scored: no score/);
        expect(table.stdout).not.toMatch(/the others are scored/);
    });

    it("--benchmark rm-bench on RewardBench 2 rows: none fits, exit 3 with a clear line", async () => {
        const file = join(dir, "v2.jsonl");
        writeFileSync(file, jsonl(v2));
        const { code, stdout, stderr } = await runBuiltCli(["eval", file, "--benchmark", "rm-bench", "--json"]);
        expect(code).toBe(3);
        expect(JSON.parse(stdout)).toMatchObject({ benchmark: "RM-Bench", rows: 0, not_fitting: 2 });
        expect(stderr).toMatch(/no row fits RM-Bench/);
    });

    it("--benchmark v1 on RewardBench 2 rows: lists of answers and subsets not RewardBench's do not fit, not scored by their first answers", async () => {
        const file = join(dir, "v2b.jsonl");
        writeFileSync(file, jsonl([...v2, v1[0]!]));
        const { code, stdout } = await runBuiltCli(["eval", file, "--benchmark", "v1", "--json"]);
        expect(code).toBe(3);
        const report = JSON.parse(stdout);
        expect(report).toMatchObject({ benchmark: "RewardBench", rows: 1, not_fitting: 2 });
        expect(Object.keys(report.subsets)).toEqual(["alpacaeval-easy"]);
    });

    it("an RM-Bench file with a domain not RM-Bench's: that row does not fit; the others are scored", async () => {
        const rm = (domain: string) => ({ prompt: "p", chosen: ["a", "b", "c"], rejected: ["d", "e", "f"], domain,
            reward_chosen: [1, 2, 3], reward_rejected: [0, 0, 0] });
        const file = join(dir, "rm.jsonl");
        writeFileSync(file, jsonl([rm("chat"), rm("poetry")]));
        const { code, stdout } = await runBuiltCli(["eval", file, "--json"]);
        expect(code).toBe(3);
        const report = JSON.parse(stdout);
        expect(report).toMatchObject({ benchmark: "RM-Bench", rows: 1, not_fitting: 1 });
        expect(Object.keys(report.domains)).toEqual(["chat"]);
    });
});
