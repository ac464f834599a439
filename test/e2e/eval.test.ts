import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { jsonl, offered, parseJsonl, referenceRewards, runBuiltCli, runInProcess, stderrLines, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-eval-"));
const rewardOf = referenceRewards();

const answers = ["Paris.", "It is Paris, the capital.", "Lyon", "I cannot say.", "Paris!!", "The answer is Paris."];
const pairs = [
    { prompt: "Capital of France?", chosen: answers[0]!, rejected: answers[2]!, subset: "alpacaeval-easy" },
    { prompt: "Capital of France?", chosen: answers[1]!, rejected: answers[3]!, subset: "alpacaeval-easy" },
    { prompt: "Say hi.", chosen: "Hi!", rejected: "Hello there, friend.", subset: "donotanswer" },
    { prompt: "2+2?", chosen: "4", rejected: "5", subset: "math-prm" },
    { prompt: "2+2?", chosen: "Four.", rejected: "Four.", subset: "math-prm" }, // a tie by construction
];
let file: string;

beforeAll(async () => {
    file = join(tmp, "prefs.jsonl");
    writeFileSync(file, pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
});

describe("nemoreward eval", () => {
    it("--json: accuracy, ties and margins computed by hand from the reference rewards", async () => {
        const perRow = join(tmp, "per-row.jsonl");
        const { code, stdout } = await runInProcess(["eval", file, "-m", tinyModel, "--precise", "--json", "--per-row", perRow]);
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        const margins = pairs.map((p) => rewardOf(p.prompt, p.chosen) - rewardOf(p.prompt, p.rejected));
        const correct = (subset: string) => pairs.filter((p, i) => p.subset === subset && margins[i]! > 1e-4);
        const rows = (subset: string) => pairs.filter((p) => p.subset === subset).length;
        expect(report.rows).toBe(5);
        expect(report.ties).toBe(1);
        expect(report.accuracy).toBeCloseTo(margins.filter((m) => m > 1e-4).length / 5, 12);
        expect(report.mean_margin).toBeCloseTo(margins.reduce((a, b) => a + b, 0) / 5, 3);
        for (const subset of ["alpacaeval-easy", "donotanswer", "math-prm"])
            expect(report.subsets[subset]).toEqual({ rows: rows(subset), accuracy: correct(subset).length / rows(subset), ties: subset === "math-prm" ? 1 : 0 });
        expect(Object.keys(report.categories)).toEqual(["Chat", "Safety", "Reasoning"]);
        expect(report.categories.Chat).toBe(report.subsets["alpacaeval-easy"].accuracy);
        expect(report.overall).toBeNull();
        // the scored rows, in input order, each with its rewards and margin
        const scored = parseJsonl(readFileSync(perRow, "utf8"));
        expect(scored.map((r) => r.chosen)).toEqual(pairs.map((p) => p.chosen));
        scored.forEach((r, i) => {
            expect(Math.abs(r.reward_chosen - rewardOf(pairs[i]!.prompt, pairs[i]!.chosen))).toBeLessThan(1e-4);
            expect(r.margin).toBeCloseTo(r.reward_chosen - r.reward_rejected, 12);
        });
    });

    it("counts pairs whose records carry an empty error field (an earlier --per-row output, a CSV column)", async () => {
        const csv = join(tmp, "with-error.csv");
        writeFileSync(csv, "prompt,chosen,rejected,error\nWhat is 1+1?,2,3,\nCapital of France?,Paris,Rome,\n");
        const { code, stdout } = await runInProcess(["eval", csv, "-m", tinyModel, "--json"]);
        expect(code).toBe(0);
        expect(JSON.parse(stdout)).toMatchObject({ rows: 2, errors: 0 });
    });

    it("-o FILE writes the report there; --format is refused", async () => {
        const report = join(tmp, "report.json");
        const { code, stdout } = await runInProcess(["eval", file, "-m", tinyModel, "--json", "-o", report]);
        expect(code).toBe(0);
        expect(stdout).toBe("");
        expect(JSON.parse(readFileSync(report, "utf8"))).toMatchObject({ rows: 5, ties: 1 });
        const format = await runInProcess(["eval", file, "-m", tinyModel, "--format", "csv"]);
        expect(format.code).toBe(2);
        expect(format.stderr).toMatch(/^nemoreward: error: unknown option '--format'/);
    });

    it("prints a table by default, and scores HelpSteer2-Preference pairs by preference_strength", async () => {
        const hs = join(tmp, "hs2p.jsonl");
        writeFileSync(hs, [
            { prompt: "Say hi.", response_1: "Hi!", response_2: "Hello there, friend.", preference_strength: -2 },
            { prompt: "Say hi.", response_1: "Hello there, friend.", response_2: "Hi!", preference_strength: -1 },
        ].map((r) => JSON.stringify(r)).join("\n"));
        const { code, stdout } = await runBuiltCli(["eval", hs, "-m", tinyModel, "--precise"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/pairs\s+2/);
        // pair 1 prefers "Hi!" (response_1), pair 2 prefers "Hello there, friend." (response_1): exactly one is right
        expect(stdout).toMatch(/accuracy\s+50\.0%/);
    });
});

describe("eval on response_1 + response_2 rows", () => {
    it("a missing or non-numeric preference_strength is a row error with its reason (exit 3); strength 0 is scored, not counted", async () => {
        const pair = { prompt: "What is 1+1?", response_1: "1+1=2", response_2: "1+1=3" };
        const rows = [{ ...pair }, { ...pair, preference_strength: 0 }, { ...pair, preference_strength: "abc" }, { ...pair, preference_strength: -2 }];
        const perRow = join(tmp, "eval-rows.jsonl");
        const { code, stdout, stderr } = await runInProcess(["eval", "-", "-m", tinyModel, "--json", "--per-row", perRow],
            rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(code).toBe(3);
        expect(stderr).toMatch(/<stdin>:1: "preference_strength" is missing/);
        expect(stderr).toMatch(/<stdin>:3: "preference_strength" is not a number \("abc"\)/);
        expect(stderr).not.toMatch(/<stdin>:[24]:/);
        expect(JSON.parse(stdout)).toMatchObject({ rows: 1, errors: 2, no_preference: 1 });
        const written = parseJsonl(readFileSync(perRow, "utf8"));
        expect(written.map((row) => row.error ?? null)).toEqual([expect.stringMatching(/missing/), null, expect.stringMatching(/not a number/), null]);
        expect(typeof written[1]!.reward_1).toBe("number");
        const table = await runInProcess(["eval", "-", "-m", tinyModel], rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(table.stdout).toMatch(/^pairs {7}1 \(2 could not be scored\) \(1 with preference_strength 0, no preferred response: not counted\)$/m);
    });
});

describe("each command's help offers what the command does", () => {
    it("eval: a report, so no --format; -o FILE.json writes JSON, -o FILE.csv is refused before anything runs", async () => {
        const options = await offered("eval");
        expect(options).not.toContain("--format");
        const input = jsonl([{ prompt: "2+2?", chosen: "4", rejected: "5" }]);
        const csv = join(tmp, "ev.csv");
        const toCsv = await runInProcess(["eval", "-", "-m", tinyModel, "-o", csv], input);
        expect(toCsv.code).toBe(2);
        expect(toCsv.stdout).toBe("");
        expect(stderrLines(toCsv.stderr)).toEqual([expect.stringMatching(/^nemoreward: error: eval writes a report.*\.json/)]);
        expect(existsSync(csv)).toBe(false);
        const json = join(tmp, "ev.json");
        const toJson = await runInProcess(["eval", "-", "-m", tinyModel, "-o", json], input);
        expect(toJson.code).toBe(0);
        expect(toJson.stdout).toBe("");
        expect(JSON.parse(readFileSync(json, "utf8"))).toMatchObject({ rows: 1 });
    });

    it("eval --on-overlong skip: a skipped pair is left out of the report, not counted with a margin of 0", async () => {
        const long = "word ".repeat(120);
        const input = jsonl([{ prompt: "2+2?", chosen: "4", rejected: "Five, I think." }, { prompt: long, chosen: "4", rejected: "5" }]);
        const { code, stdout, stderr } = await runInProcess(["eval", "-", "-m", tinyModel, "--precise", "--json", "--context-size", "150", "--on-overlong", "skip"], input);
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        expect(report).toMatchObject({ rows: 1, errors: 0 });
        expect(report.mean_margin).toBeCloseTo(rewardOf("2+2?", "4") - rewardOf("2+2?", "Five, I think."), 4);
        expect(stderr).toMatch(/<stdin>:2: skipped: "(chosen|rejected)": the conversation is at least \d+ tokens/);
    });
});
