import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-prefs-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let reference: ReferenceModel;
const rewardOf = (prompt: string, response: string) =>
    reference.logits(reference.tokenize(template.render([{ role: "user", content: prompt }, { role: "assistant", content: response }])), [0])[0]!;

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
    reference = await loadReferenceModel(tinyModel);
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

describe("scoring pairs and best-of-N rows", () => {
    it("adds reward_chosen/reward_rejected/margin, reward_1/reward_2/margin/preferred, rewards/best", async () => {
        const rows = [
            { prompt: "2+2?", chosen: "4", rejected: "5" },
            { prompt: "2+2?", response_1: "4", response_2: "5" },
            { prompt: "2+2?", responses: ["5", "4", "Four", "22"] },
        ];
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(code).toBe(0);
        const [cr, pair, many] = parseJsonl(stdout);
        const r4 = rewardOf("2+2?", "4"), r5 = rewardOf("2+2?", "5");
        expect(Math.abs(cr!.reward_chosen - r4)).toBeLessThan(1e-4);
        expect(Math.abs(cr!.reward_rejected - r5)).toBeLessThan(1e-4);
        expect(cr!.margin).toBeCloseTo(cr!.reward_chosen - cr!.reward_rejected, 12);
        expect(pair!.margin).toBeCloseTo(pair!.reward_2 - pair!.reward_1, 12);
        expect(pair!.preferred).toBe(r5 > r4 ? 2 : 1);
        const expected = ["5", "4", "Four", "22"].map((r) => rewardOf("2+2?", r));
        many!.rewards.forEach((r: number, i: number) => expect(Math.abs(r - expected[i]!)).toBeLessThan(1e-4));
        expect(many!.best).toBe(expected.indexOf(Math.max(...expected)));
    });

    it("reads RewardBench pairs given as whole message lists", async () => {
        const asMessages = (prompt: string, answer: string) => [{ role: "user", content: prompt }, { role: "assistant", content: answer }];
        const row = { chosen: asMessages("2+2?", "4"), rejected: asMessages("2+2?", "5") };
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], JSON.stringify(row));
        const [scored] = parseJsonl(stdout);
        expect(Math.abs(scored!.reward_chosen - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
        expect(Math.abs(scored!.reward_rejected - rewardOf("2+2?", "5"))).toBeLessThan(1e-4);
    });

    it("--rank --group-by FIELD groups by that field instead of the prompt", async () => {
        const rows = [["A", "Q1", "a"], ["A", "Q2", "bb"], ["B", "Q3", "ccc"]].map(([task, prompt, response]) => ({ task, prompt, response }));
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank", "--group-by", "task"], rows.map((r) => JSON.stringify(r)).join("\n"));
        const out = parseJsonl(stdout);
        expect(out.slice(0, 2).map((r) => r.rank).sort()).toEqual([1, 2]);
        expect(out[2]).toMatchObject({ rank: 1, z: 0 });
    });

    it("--rank adds rank and z within each run of rows sharing a prompt", async () => {
        const rows = [["Q1", "a"], ["Q1", "bb"], ["Q1", "ccc"], ["Q2", "d"], ["Q2", "ee"]].map(([prompt, response]) => ({ prompt, response }));
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows.map((r) => JSON.stringify(r)).join("\n"));
        const out = parseJsonl(stdout);
        for (const group of [out.slice(0, 3), out.slice(3)]) {
            const rewards = group.map((r) => r.reward as number);
            const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
            const sd = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
            group.forEach((row) => {
                expect(row.rank).toBe(1 + rewards.filter((r) => r > row.reward).length);
                expect(row.z).toBeCloseTo((row.reward - mean) / sd, 9);
            });
        }
        expect(out.map((r) => r.response)).toEqual(rows.map((r) => r.response));
    });
});

describe("nemoreward pairs", () => {
    it("writes best vs worst per best-of-N row and per run of rows sharing a prompt; --min-margin drops unclear pairs", async () => {
        const input = [
            { prompt: "Name a colour.", responses: ["Blue.", "Red", "I like turtles", "Green is a colour."] },
            { prompt: "Say hi.", response: "Hi!" },
            { prompt: "Say hi.", response: "Hello there, friend." },
            { prompt: "Say hi.", response: "hi" },
            { prompt: "Alone?", response: "Yes." },
        ].map((r) => JSON.stringify(r)).join("\n");
        const { code, stdout } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"], input);
        expect(code).toBe(0);
        const out = parseJsonl(stdout);
        expect(out).toHaveLength(2); // "Alone?" has nothing to compare with
        const colours = ["Blue.", "Red", "I like turtles", "Green is a colour."];
        const colourRewards = colours.map((r) => rewardOf("Name a colour.", r));
        expect(out[0]).toMatchObject({
            prompt: "Name a colour.",
            chosen: colours[colourRewards.indexOf(Math.max(...colourRewards))],
            rejected: colours[colourRewards.indexOf(Math.min(...colourRewards))],
        });
        const his = ["Hi!", "Hello there, friend.", "hi"];
        const hiRewards = his.map((r) => rewardOf("Say hi.", r));
        expect(out[1]).toMatchObject({ prompt: "Say hi.", chosen: his[hiRewards.indexOf(Math.max(...hiRewards))], rejected: his[hiRewards.indexOf(Math.min(...hiRewards))] });
        expect(out[1]!.margin).toBeCloseTo(Math.max(...hiRewards) - Math.min(...hiRewards), 3);
        // a threshold between the two margins keeps only the clearer pair
        const [m0, m1] = [out[0]!.margin, out[1]!.margin];
        const { stdout: filtered } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--min-margin", String((m0 + m1) / 2)], input);
        expect(parseJsonl(filtered).map((p) => p.prompt)).toEqual([m0 > m1 ? "Name a colour." : "Say hi."]);
    });

    it("reads best-of-N responses from a CSV cell holding a JSON list; refuses an output format other than JSONL", async () => {
        const colours = ["Blue.", "Red, or \"crimson\"", "Green is a colour."];
        const csv = join(tmp, "bon.csv");
        writeFileSync(csv, `prompt,responses\n"Name a colour.","${JSON.stringify(colours).replaceAll('"', '""')}"\n`);
        const { code, stdout } = await runInProcess(["pairs", csv, "-m", tinyModel, "--precise"]);
        expect(code).toBe(0);
        const rewards = colours.map((r) => rewardOf("Name a colour.", r));
        expect(parseJsonl(stdout)).toMatchObject([{
            chosen: colours[rewards.indexOf(Math.max(...rewards))],
            rejected: colours[rewards.indexOf(Math.min(...rewards))],
        }]);
        const csvOut = await runInProcess(["pairs", csv, "-m", tinyModel, "-o", join(tmp, "pairs.csv")]);
        expect(csvOut.code).toBe(2);
        expect(csvOut.stderr).toMatch(/pairs writes JSONL, not csv/);
    });
});
