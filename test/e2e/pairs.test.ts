import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { groupWithUnreadableRow, jsonl, offered, parseJsonl, referenceRewards, runInProcess, stderrLines, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-pairs-"));
const rewardOf = referenceRewards();

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

describe("pairs says what it wrote and what it dropped", () => {
    it("chosen/rejected rows are pairs already: written with their margin when chosen scores higher", async () => {
        const rows = [
            { prompt: "2+2?", chosen: "4", rejected: "5" },
            { prompt: "Say hi.", chosen: "Hi!", rejected: "Hello there, friend." },
            { prompt: "Capital of France?", chosen: "Paris.", rejected: "Lyon" },
            { prompt: "Capital of France?", chosen: "It is Paris, the capital.", rejected: "I cannot say." },
            { prompt: "Colour?", chosen: "Blue.", rejected: "Blue." },
        ];
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"], jsonl(rows));
        expect(code).toBe(0);
        const margins = rows.map((r) => rewardOf(r.prompt, r.chosen) - rewardOf(r.prompt, r.rejected));
        const kept = rows.filter((_, i) => margins[i]! > 1e-6);
        const out = parseJsonl(stdout);
        expect(out.map((p) => [p.prompt, p.chosen, p.rejected])).toEqual(kept.map((r) => [r.prompt, r.chosen, r.rejected]));
        out.forEach((p) => {
            expect(Math.abs(p.reward_chosen - rewardOf(p.prompt, p.chosen))).toBeLessThan(1e-4);
            expect(p.margin).toBeCloseTo(p.reward_chosen - p.reward_rejected, 12);
        });
        const disagree = margins.filter((m) => m < -1e-6).length;
        expect(stderr).toMatch(new RegExp(`wrote ${kept.length} pairs? from 5 prompts`));
        expect(stderr).toMatch(/1 tie\b/);
        if (disagree > 0) expect(stderr).toContain(`${disagree} where the rejected response scored higher`);
    });

    it("rows with one response per prompt: no pairs, and a warning that says why, even with --quiet", async () => {
        const rows = [{ prompt: "a?", response: "x" }, { prompt: "b?", response: "y" }, { prompt: "c?", response: "z" }];
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--quiet"], jsonl(rows));
        expect(code).toBe(0);
        expect(stdout).toBe("");
        expect(stderrLines(stderr)).toHaveLength(1);
        expect(stderr).toMatch(/warning: wrote no pairs from 3 prompts: 3 with fewer than 2 scored responses/);
    });

    it("a tie is never a pair, even at --min-margin 0; --min-margin counts what it drops", async () => {
        const rows = [
            { prompt: "Say hi.", response: "hi" }, { prompt: "Say hi.", response: "hi" }, // a tie by construction
            { prompt: "Name a colour.", responses: ["Blue.", "Red", "I like turtles", "Green is a colour."] },
            { prompt: "2+2?", response_1: "4", response_2: "Five, I think." },
        ];
        const base = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"], jsonl(rows));
        expect(base.code).toBe(0);
        const colours = rows[2]!.responses!.map((r) => rewardOf("Name a colour.", r));
        const sums = [rewardOf("2+2?", "4"), rewardOf("2+2?", "Five, I think.")];
        const expected = [
            { prompt: "Name a colour.", margin: Math.max(...colours) - Math.min(...colours) },
            { prompt: "2+2?", margin: Math.abs(sums[0]! - sums[1]!) },
        ];
        const out = parseJsonl(base.stdout);
        expect(out.map((p) => p.prompt)).toEqual(expected.map((p) => p.prompt));
        out.forEach((p, i) => expect(p.margin).toBeCloseTo(expected[i]!.margin, 4));
        expect(base.stderr).toMatch(/wrote 2 pairs from 3 prompts; not written: 1 tie\b/);
        // a threshold between the two margins keeps one pair and says so
        const threshold = (expected[0]!.margin + expected[1]!.margin) / 2;
        const filtered = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--min-margin", String(threshold)], jsonl(rows));
        expect(parseJsonl(filtered.stdout)).toHaveLength(1);
        expect(filtered.stderr).toMatch(new RegExp(`wrote 1 pair from 3 prompts; not written: 1 tie, 1 below --min-margin ${threshold}`));
        const negative = await runInProcess(["pairs", "-", "-m", tinyModel, "--min-margin", "-1"], jsonl(rows));
        expect(negative.code).toBe(2);
        expect(negative.stdout).toBe("");
        expect(negative.stderr).toMatch(/^nemoreward: error: .*--min-margin/);
    });
});

describe("groups of rows sharing a prompt", () => {
    const rows = groupWithUnreadableRow;

    it("pairs: an unreadable row in the middle does not split the group", async () => {
        const { stdout } = await runInProcess(["pairs", "-", "-m", tinyModel], rows);
        const pairs = parseJsonl(stdout);
        expect(pairs).toHaveLength(1);
        const ranked = parseJsonl((await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows)).stdout);
        expect(pairs[0]!.chosen).toBe(ranked.find((row) => row.rank === 1)!.response);
        expect(pairs[0]!.rejected).toBe(ranked.find((row) => row.rank === 4)!.response);
    });
});

describe("each command's help offers what the command does", () => {
    it("pairs: JSONL only, so no --format; -o names JSONL; --field names the reward fields", async () => {
        const options = await offered("pairs");
        expect(options).not.toContain("--format");
        expect((await runInProcess(["pairs", "--help"])).stdout).toMatch(/-o, --output <file>\s+write the pairs \(JSONL\)/);
        const format = await runInProcess(["pairs", "-", "-m", tinyModel, "--format", "table"], "");
        expect(format.code).toBe(2);
        expect(format.stderr).toMatch(/^nemoreward: error: unknown option '--format'/);
        const csv = join(tmp, "dpo.csv");
        const toCsv = await runInProcess(["pairs", "-", "-m", tinyModel, "-o", csv], "");
        expect(toCsv.code).toBe(2);
        expect(toCsv.stderr).toMatch(/pairs writes JSONL/);
        expect(existsSync(csv)).toBe(false);
        const named = await runInProcess(["pairs", "-", "-m", tinyModel, "--field", "score"],
            jsonl([{ prompt: "2+2?", chosen: "4", rejected: "Five, I think." }, { prompt: "2+2?", chosen: "Five, I think.", rejected: "4" }]));
        const [pair] = parseJsonl(named.stdout);
        expect(Object.keys(pair!)).toEqual(["prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin"]);
    });
});
