import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { beforeAll } from "vitest";
import { columnTypes, duck } from "../duckdb.js";
import { groupWithUnreadableRow, jsonl, offered, parseJsonl, referenceRewards, runBuiltCli, runInProcess, stderrLines, tinyModel } from "../helpers.js";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";

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
        const { code, stdout } = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--precise"], input);
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
        const { stdout: filtered } = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--precise", "--min-margin", String((m0 + m1) / 2)], input);
        expect(parseJsonl(filtered).map((p) => p.prompt)).toEqual([m0 > m1 ? "Name a colour." : "Say hi."]);
    });

    it("reads best-of-N responses from a CSV cell holding a JSON list; refuses an output format other than JSONL", async () => {
        const colours = ["Blue.", "Red, or \"crimson\"", "Green is a colour."];
        const csv = join(tmp, "bon.csv");
        writeFileSync(csv, `prompt,responses\n"Name a colour.","${JSON.stringify(colours).replaceAll('"', '""')}"\n`);
        const { code, stdout } = await runInProcess(["pairs", "--pair-format", "trl-standard", csv, "-m", tinyModel, "--precise"]);
        expect(code).toBe(0);
        const rewards = colours.map((r) => rewardOf("Name a colour.", r));
        expect(parseJsonl(stdout)).toMatchObject([{
            chosen: colours[rewards.indexOf(Math.max(...rewards))],
            rejected: colours[rewards.indexOf(Math.min(...rewards))],
        }]);
        const csvOut = await runInProcess(["pairs", "--pair-format", "trl-standard", csv, "-m", tinyModel, "-o", join(tmp, "pairs.csv")]);
        expect(csvOut.code).toBe(2);
        expect(csvOut.stderr).toMatch(/pairs writes JSONL, JSON or Parquet, not csv/);
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
        const { code, stdout, stderr } = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--precise"], jsonl(rows));
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
        const { code, stdout, stderr } = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--quiet"], jsonl(rows));
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
        const base = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--precise"], jsonl(rows));
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
        const filtered = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--precise", "--min-margin", String(threshold)], jsonl(rows));
        expect(parseJsonl(filtered.stdout)).toHaveLength(1);
        expect(filtered.stderr).toMatch(new RegExp(`wrote 1 pair from 3 prompts; not written: 1 tie, 1 below --min-margin ${threshold}`));
        const negative = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--min-margin", "-1"], jsonl(rows));
        expect(negative.code).toBe(2);
        expect(negative.stdout).toBe("");
        expect(negative.stderr).toMatch(/^nemoreward: error: .*--min-margin/);
    });
});

describe("groups of rows sharing a prompt", () => {
    const rows = groupWithUnreadableRow;

    it("pairs: an unreadable row in the middle does not split the group", async () => {
        const { stdout } = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel], rows);
        const pairs = parseJsonl(stdout);
        expect(pairs).toHaveLength(1);
        const ranked = parseJsonl((await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows)).stdout);
        expect(pairs[0]!.chosen).toBe(ranked.find((row) => row.rank === 1)!.response);
        expect(pairs[0]!.rejected).toBe(ranked.find((row) => row.rank === 4)!.response);
    });
});

describe("each command's help offers what the command does", () => {
    it("pairs: no --format (-o names JSONL, JSON or Parquet); --field names the reward fields", async () => {
        const options = await offered("pairs");
        expect(options).not.toContain("--format");
        expect((await runInProcess(["pairs", "--help"])).stdout).toMatch(/-o, --output <file>\s+write the pairs here instead of stdout/);
        const format = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--format", "table"], "");
        expect(format.code).toBe(2);
        expect(format.stderr).toMatch(/^nemoreward: error: unknown option '--format'/);
        const csv = join(tmp, "dpo.csv");
        const toCsv = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "-o", csv], "");
        expect(toCsv.code).toBe(2);
        expect(toCsv.stderr).toMatch(/pairs writes JSONL/);
        expect(existsSync(csv)).toBe(false);
        const named = await runInProcess(["pairs", "--pair-format", "trl-standard", "-", "-m", tinyModel, "--field", "score"],
            jsonl([{ prompt: "2+2?", chosen: "4", rejected: "Five, I think." }, { prompt: "2+2?", chosen: "Five, I think.", rejected: "4" }]));
        const [pair] = parseJsonl(named.stdout);
        expect(Object.keys(pair!)).toEqual(["prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin"]);
    });
});

describe("pairs in TRL's preference formats (issue 20)", () => {
    // best-of-4 samples of one prompt with a system message, as a generation job writes them
    const system = "You are terse.";
    const samples = ["Paris.", "Lyon", "It is Paris, the capital.", "I cannot say."].map((response, i) =>
        ({ prompt_id: "q1", sample_idx: i, model: `gen-${i % 2}`, system, prompt: "Capital of France?", response }));
    const rewardWithSystem = referenceRewardsWithSystem();

    it("conversational by default: the prompt keeps the system message the rewards were computed with; chosen/rejected are [assistant message]", async () => {
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--group-by", "prompt_id"], jsonl(samples));
        expect(code, stderr).toBe(0);
        const rewards = samples.map((s) => rewardWithSystem(system, s.prompt, s.response));
        const best = rewards.indexOf(Math.max(...rewards)), worst = rewards.indexOf(Math.min(...rewards));
        const [pair, ...rest] = parseJsonl(stdout);
        expect(rest).toEqual([]);
        expect(pair).toMatchObject({
            prompt: [{ role: "system", content: system }, { role: "user", content: "Capital of France?" }],
            chosen: [{ role: "assistant", content: samples[best]!.response }],
            rejected: [{ role: "assistant", content: samples[worst]!.response }],
            // lineage: the group's key once, each side's other columns
            prompt_id: "q1", chosen_sample_idx: best, rejected_sample_idx: worst, chosen_model: `gen-${best % 2}`, rejected_model: `gen-${worst % 2}`,
        });
        expect(Math.abs(pair!.reward_chosen - rewards[best]!)).toBeLessThan(1e-4);
    });

    it("trl-standard: plain strings; a prompt with a system message cannot be one, so it is not written, and stderr says so", async () => {
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--pair-format", "trl-standard"], jsonl(samples));
        expect(code).toBe(0);
        expect(stdout).toBe("");
        expect(stderr).toMatch(/1 whose prompt is not one user turn \(a system message or earlier turns\): --pair-format trl-conversational keeps them/);
        const plain = samples.map(({ system: _, ...rest }) => rest);
        const [pair] = parseJsonl((await runInProcess(["pairs", "-", "-m", tinyModel, "--pair-format", "trl-standard"], jsonl(plain))).stdout);
        expect(typeof pair!.prompt).toBe("string");
        expect(typeof pair!.chosen).toBe("string");
        expect(typeof pair!.rejected).toBe("string");
    });

    it("writes Parquet (-o pairs.parquet): message lists as lists of structs, rewards DOUBLE even when whole, lineage; read back with DuckDB", async () => {
        const out = join(tmp, "pairs.parquet");
        const { code, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--group-by", "prompt_id", "-o", out], jsonl(samples));
        expect(code, stderr).toBe(0);
        // message lists as datasets store messages (lists of structs), so that TRL reads them as message lists
        const messages = 'STRUCT("role" VARCHAR, "content" VARCHAR)[]';
        expect(await columnTypes(out)).toMatchObject({ prompt: messages, chosen: messages, rejected: messages,
            reward_chosen: "DOUBLE", reward_rejected: "DOUBLE", margin: "DOUBLE", prompt_id: "VARCHAR" });
        const [row] = await duck(`SELECT to_json(prompt) AS prompt, to_json(chosen) AS chosen, reward_chosen - reward_rejected AS diff, margin FROM '${out}'`);
        const [expected] = parseJsonl((await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--group-by", "prompt_id"], jsonl(samples))).stdout);
        expect(typeof row!.prompt === "string" ? JSON.parse(row!.prompt) : row!.prompt).toEqual(expected!.prompt);
        expect(typeof row!.chosen === "string" ? JSON.parse(row!.chosen) : row!.chosen).toEqual(expected!.chosen);
        expect(expected!.prompt[0]).toEqual({ role: "system", content: system });
        expect(row!.diff).toBeCloseTo(row!.margin, 12);
        // rewards that happen to be whole numbers (a file's own labels, --scored) are still DOUBLE columns
        const whole = join(tmp, "whole.parquet");
        const scored = jsonl([{ prompt: "p", response: "a", reward: 2 }, { prompt: "p", response: "b", reward: 1 }]);
        expect((await runInProcess(["pairs", "-", "--scored", "--pair-format", "trl-standard", "-o", whole], scored)).code).toBe(0);
        expect(await columnTypes(whole)).toMatchObject({ prompt: "VARCHAR", chosen: "VARCHAR", reward_chosen: "DOUBLE", margin: "DOUBLE" });
        expect(await duck(`SELECT prompt, chosen, rejected, margin FROM '${whole}'`)).toEqual([{ prompt: "p", chosen: "a", rejected: "b", margin: 1 }]);
    });

    it("--scored pairs a scored file's rewards without a model: the same pairs as scoring again", async () => {
        const scored = join(tmp, "samples-scored.jsonl");
        const input = join(tmp, "samples.jsonl");
        writeFileSync(input, jsonl([...samples, { prompt: "Say hi.", responses: ["Hi!", "Hello there, friend.", "Yo"] }, { prompt: "2+2?", chosen: "4", rejected: "Five." }]));
        expect((await runInProcess(["score", input, "-m", tinyModel, "--precise", "-o", scored])).code).toBe(0);
        const again = await runInProcess(["pairs", input, "-m", tinyModel, "--precise"]);
        const fromFile = await runBuiltCli(["pairs", scored, "--scored"], undefined, { NEMOREWARD_MODEL: "/nonexistent.gguf" });
        expect(fromFile.code, fromFile.stderr).toBe(0);
        expect(fromFile.stdout).toBe(again.stdout);
        expect(parseJsonl(fromFile.stdout).length).toBeGreaterThan(1);
        const withModel = await runInProcess(["pairs", scored, "--scored", "-m", tinyModel]);
        expect(withModel.code).toBe(2);
        expect(withModel.stderr).toMatch(/--scored .* loads no model/);
    });
});

/** The float64 reference's reward for a system message, a user prompt and a response. */
function referenceRewardsWithSystem(): (system: string, prompt: string, response: string) => number {
    let reference: ReferenceModel;
    const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
    beforeAll(async () => {
        reference = await loadReferenceModel(tinyModel);
    });
    return (system, prompt, response) => reference.logits(reference.tokenize(template.render([
        { role: "system", content: system }, { role: "user", content: prompt }, { role: "assistant", content: response }])), [0])[0]!;
}

describe("a scored file's rewards are the model's, the user's fields are lineage (hostile report 4)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nemoreward-pairs-own-"));
    it("#1: rows with a reward label of their own: filter and pairs --scored read the model's, from nemoreward_reward, and say so", async () => {
        // human labels (whole numbers: score keeps them as the user's) that prefer the answers the model does not
        const responses = ["4", "5", "It is four."];
        const rewards = responses.map((r) => rewardOf("What is 2+2?", r));
        const labels = rewards.map((r) => rewards.filter((other) => other < r).length * -5 + 10);
        const input = join(dir, "lab.jsonl");
        writeFileSync(input, jsonl(responses.map((response, i) => ({ pid: 1, prompt: "What is 2+2?", response, reward: labels[i] }))));
        const scored = join(dir, "lab-scored.jsonl");
        expect((await runInProcess(["score", input, "-m", tinyModel, "--precise", "-o", scored, "-q"])).code).toBe(0);
        const best = rewards.indexOf(Math.max(...rewards)), worst = rewards.indexOf(Math.min(...rewards));

        const kept = await runInProcess(["filter", scored, "--top-k", "1", "--group-by", "pid"]);
        expect(kept.code).toBe(0);
        expect(parseJsonl(kept.stdout).map((r) => r.response)).toEqual([responses[best]]);
        expect(kept.stderr).toMatch(/reading the rewards from "nemoreward_reward"/);
        const above = await runInProcess(["filter", scored, "--min-reward", String((Math.max(...rewards) + Math.min(...rewards)) / 2)]);
        expect(parseJsonl(above.stdout).map((r) => r.response)).toContain(responses[best]);
        expect(parseJsonl(above.stdout).map((r) => r.response)).not.toContain(responses[worst]);

        const pairs = await runInProcess(["pairs", scored, "--scored", "--group-by", "pid"]);
        expect(pairs.code).toBe(0);
        expect(pairs.stderr).toMatch(/reading the rewards from "nemoreward_reward"/);
        const [pair] = parseJsonl(pairs.stdout);
        expect(pair!.chosen).toEqual([{ role: "assistant", content: responses[best] }]);
        expect(pair!.rejected).toEqual([{ role: "assistant", content: responses[worst] }]);
        expect(pair!.reward_chosen).toBeCloseTo(rewards[best]!, 3);
        expect(pair!.reward_rejected).toBeCloseTo(rewards[worst]!, 3);
        // the labels are the user's lineage, never the pair's rewards
        expect(pair).toMatchObject({ chosen_reward: labels[best], rejected_reward: labels[worst] });
        expect(pair).not.toHaveProperty("nemoreward_reward");
        expect(pair).not.toHaveProperty("chosen_nemoreward_reward");
    });

    it("#1: chosen/rejected records with labels of their own: pairs --scored reads nemoreward_reward_chosen/_rejected", async () => {
        const input = join(dir, "cr.jsonl");
        writeFileSync(input, jsonl([{ prompt: "P", chosen: "A", rejected: "B", reward_chosen: 9, reward_rejected: 1, nemoreward_reward_chosen: -2.5, nemoreward_reward_rejected: -1.5 },
            { prompt: "Q", chosen: "A", rejected: "B", reward_chosen: 1, reward_rejected: 9, nemoreward_reward_chosen: -1.5, nemoreward_reward_rejected: -2.5 }]));
        const { code, stdout, stderr } = await runInProcess(["pairs", input, "--scored"]);
        expect(code).toBe(0);
        const out = parseJsonl(stdout);
        expect(out.map((p) => p.prompt)).toEqual([[{ role: "user", content: "Q" }]]);
        expect(out[0]).toMatchObject({ reward_chosen: -1.5, reward_rejected: -2.5, margin: 1 });
        expect(stderr).toMatch(/"nemoreward_reward_chosen"/);
    });

    it("#9: user columns named like the tool's fields (rank, z, skipped, dropped) are kept as lineage", async () => {
        const input = join(dir, "lin.jsonl");
        writeFileSync(input, jsonl([
            { pid: 1, prompt: "P", response: "a", rank: 2, z: "zz", skipped: "no", dropped: "x", reward: 1.5 },
            { pid: 1, prompt: "P", response: "b", rank: 1, z: "yy", skipped: "no", dropped: "y", reward: 0.5 },
        ]));
        const { code, stdout } = await runInProcess(["pairs", input, "--scored", "--group-by", "pid"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)[0]).toMatchObject({
            pid: 1, chosen_rank: 2, rejected_rank: 1, chosen_z: "zz", rejected_z: "yy",
            chosen_skipped: "no", rejected_skipped: "no", chosen_dropped: "x", rejected_dropped: "y",
        });
    });
});

describe("pairs compare responses to one prompt only (hostile report 4)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nemoreward-pairs-prompts-"));
    it("#4: a --group-by group whose rows answer different prompts is paired within each prompt only, and stderr says so", async () => {
        const input = join(dir, "pr2.jsonl");
        writeFileSync(input, jsonl([
            { pid: 1, prompt: "What is 2+2?", response: "4", reward: 1 },
            { pid: 1, prompt: "Name a color", response: "blue", reward: -1 },
            { pid: 1, prompt: "What is 2+2?", response: "5", reward: -2 },
            { pid: 2, messages: [{ role: "system", content: "S1" }, { role: "user", content: "Q" }, { role: "assistant", content: "A" }], reward: 1 },
            { pid: 2, messages: [{ role: "user", content: "Q" }, { role: "assistant", content: "B" }], reward: -1 },
        ]));
        const { code, stdout, stderr } = await runInProcess(["pairs", input, "--scored", "--group-by", "pid"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toEqual([expect.objectContaining({
            prompt: [{ role: "user", content: "What is 2+2?" }], chosen: [{ role: "assistant", content: "4" }], rejected: [{ role: "assistant", content: "5" }], margin: 3,
        })]);
        expect(stderr).toMatch(/pr2\.jsonl:1: .*prompts differ/);
        expect(stderr).toMatch(/pr2\.jsonl:4: .*prompts differ/);
        expect(stderr).toMatch(/2 groups whose rows answer different prompts/);
    });

    it("#4: a chosen/rejected or response_1/response_2 record whose conversations have different prompts is not a pair: named, exit 3", async () => {
        const input = join(dir, "pr4.jsonl");
        writeFileSync(input, jsonl([
            { id: 1, chosen: [{ role: "user", content: "Q" }, { role: "assistant", content: "A" }], rejected: [{ role: "user", content: "Q2" }, { role: "assistant", content: "B" }], reward_chosen: 1, reward_rejected: 0 },
            { id: 2, chosen: [{ role: "system", content: "sys" }, { role: "user", content: "Q" }, { role: "assistant", content: "A" }], rejected: [{ role: "user", content: "Q" }, { role: "assistant", content: "B" }], reward_chosen: 1, reward_rejected: 0 },
            { id: 3, chosen: [{ role: "user", content: "Q" }, { role: "assistant", content: "A" }], rejected: [{ role: "user", content: "Q" }, { role: "assistant", content: "B" }], reward_chosen: 1, reward_rejected: 0 },
        ]));
        const { code, stdout, stderr } = await runInProcess(["pairs", input, "--scored"]);
        expect(code).toBe(3);
        expect(parseJsonl(stdout).map((p) => p.id)).toEqual([3]);
        expect(stderr).toMatch(/pr4\.jsonl:1: not a pair: .*different prompts/);
        expect(stderr).toMatch(/pr4\.jsonl:2: not a pair: .*different prompts/);
    });

    it("#3: rows without the --group-by field are not paired (a typo pairs nothing), counted, exit 3", async () => {
        const input = join(dir, "typo.jsonl");
        writeFileSync(input, jsonl([
            { prompt_id: 1, prompt: "P1", response: "a", reward: -1 },
            { prompt_id: 1, prompt: "P1", response: "b", reward: -2 },
            { prompt_id: 2, prompt: "P2", response: "c", reward: 5 },
            { prompt_id: 2, prompt: "P2", response: "d", reward: -7 },
        ]));
        const typo = await runInProcess(["pairs", input, "--scored", "--group-by", "promptid"]);
        expect(typo.code).toBe(3);
        expect(typo.stdout).toBe("");
        expect(typo.stderr).toMatch(/no field "promptid"/);
        expect(typo.stderr).toMatch(/4 rows without the --group-by field/);
        const right = await runInProcess(["pairs", input, "--scored", "--group-by", "prompt_id"]);
        expect(right.code).toBe(0);
        expect(parseJsonl(right.stdout).map((p) => p.prompt_id)).toEqual([1, 2]);
    });

    it("#12: group keys compare as values", async () => {
        const input = join(dir, "gk.jsonl");
        writeFileSync(input, ['{"pid":{"a":1, "b":2},"prompt":"a","response":"x","reward":1}', '{"pid":{"a":1,"b":2},"prompt":"a","response":"y","reward":2}',
            '{"pid":1.0,"prompt":"a","response":"x","reward":1}', '{"pid":1e0,"prompt":"a","response":"y","reward":2}'].join("\n"));
        const { code, stdout } = await runInProcess(["pairs", input, "--scored", "--group-by", "pid"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toHaveLength(2);
    });
});

describe("pairs to Parquet: the pairs' columns only (hostile report 4, #5)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nemoreward-pairs-parquet-"));
    it("the Parquet columns are the JSONL output's keys; lineage named like TRL's keys goes under source_NAME; no input column leaks in", async () => {
        const sys = { role: "system", content: "Be nice" }, user = { role: "user", content: "Hi" };
        const input = join(dir, "msg.jsonl");
        writeFileSync(input, jsonl([
            { pid: 1, model: "m1", messages: [sys, user, { role: "assistant", content: "Hello" }], reward: -1, big: 9007199254740993, label: "good", completion: "c1" },
            { pid: 1, model: "m2", messages: [sys, user, { role: "assistant", content: "Yo" }], reward: -2, big: 1.5, label: "bad", completion: "c2" },
            { label: "L", prompt: "Q", responses: ["A1", "A2"], rewards: [0.5, 1.5], models: ["x", "y"], response: "stray", sample_idx: null },
        ]));
        const out = join(dir, "pairs.parquet");
        const jsonOut = await runInProcess(["pairs", input, "--scored"]);
        expect(jsonOut.code).toBe(0);
        const pairs = parseJsonl(jsonOut.stdout);
        expect(pairs).toHaveLength(2);
        expect(pairs[1]).toMatchObject({ source_label: "L" });
        const keys = [...new Set(pairs.flatMap((p) => Object.keys(p)))];
        for (const trlKey of ["messages", "completion", "label", "response", "reward"]) expect(keys).not.toContain(trlKey);
        expect((await runInProcess(["pairs", input, "--scored", "-o", out])).code).toBe(0);
        expect(Object.keys(await columnTypes(out))).toEqual(keys);
        expect(await duck(`select chosen_label, rejected_label, chosen_completion, source_label from '${out}'`)).toEqual([
            { chosen_label: "good", rejected_label: "bad", chosen_completion: "c1", source_label: null },
            { chosen_label: null, rejected_label: null, chosen_completion: null, source_label: "L" },
        ]);
    });
});

describe("trl-standard prompts (hostile report 4, #6)", () => {
    it("a prompt that is not one user turn (earlier turns in HelpSteer2 markers, a system message) is not written, and counted", async () => {
        const input = jsonl([
            { system: "S", prompt: "P", response: "a", reward: 1 },
            { system: "S", prompt: "P", response: "b", reward: 0 },
            { prompt: "P2\n<extra_id_1>Assistant\nok\n<extra_id_1>User\nmore", response: "a", reward: 1 },
            { prompt: "P2\n<extra_id_1>Assistant\nok\n<extra_id_1>User\nmore", response: "b", reward: 0 },
            { prompt: "P3", response: "a", reward: 1 },
            { prompt: "P3", response: "b", reward: 0 },
        ]);
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "--scored", "--pair-format", "trl-standard"], input);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toEqual([expect.objectContaining({ prompt: "P3", chosen: "a", rejected: "b" })]);
        expect(stderr).toMatch(/2 whose prompt is not one user turn/);
        // the conversational format keeps them, the turns split
        const conversational = parseJsonl((await runInProcess(["pairs", "-", "--scored"], input)).stdout);
        expect(conversational[1]!.prompt).toEqual([{ role: "user", content: "P2" }, { role: "assistant", content: "ok" }, { role: "user", content: "more" }]);
    });
});

describe("a best-of-N pair's lineage (hostile report 4, #22)", () => {
    it("lists parallel to the responses (models) give the chosen and the rejected response's own item", async () => {
        const { code, stdout } = await runInProcess(["pairs", "-", "--scored"],
            jsonl([{ id: 9, prompt: "p", responses: ["a", "b", "c"], models: ["m1", "m2", "m3"], tags: ["t"], rewards: [-1, -0.5, -2], best: 1 }]));
        expect(code).toBe(0);
        const [pair] = parseJsonl(stdout);
        expect(pair).toMatchObject({ id: 9, chosen_models: "m2", rejected_models: "m3", tags: ["t"] });
        expect(pair).not.toHaveProperty("models");
        expect(pair).not.toHaveProperty("best");
    });
});

describe("pairs with the model keeps the user's labels as lineage (hostile report 4, #1/#9)", () => {
    it("a whole-number reward label of the input is lineage (chosen_reward/rejected_reward), never the pair's reward", async () => {
        const responses = ["4", "It is four."];
        const rewards = responses.map((r) => rewardOf("What is 2+2?", r));
        const { code, stdout } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"],
            jsonl(responses.map((response, i) => ({ prompt: "What is 2+2?", response, reward: i * 10 }))));
        expect(code).toBe(0);
        const [pair] = parseJsonl(stdout);
        const best = rewards.indexOf(Math.max(...rewards)), worst = 1 - best;
        expect(pair!.reward_chosen).toBeCloseTo(rewards[best]!, 3);
        expect(pair).toMatchObject({ chosen_reward: best * 10, rejected_reward: worst * 10 });
    });
});
