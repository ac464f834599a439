import { describe, expect, it } from "vitest";
import { toScoringTask } from "../../src/conversation/scoringTask.js";
import { defaultFields } from "../../src/conversation/toConversation.js";
import { parseRecord } from "../../src/records/json.js";
import type { InputRow, Source } from "../../src/records/row.js";
import type { OutRow } from "../../src/conversation/scoringTask.js";
import type { Fields } from "../../src/records/values.js";
import { filterTransform } from "../../src/transforms/filter.js";
import { groupKey } from "../../src/transforms/groups.js";
import { pairsTransform } from "../../src/transforms/pairs.js";
import { rankTransform } from "../../src/transforms/rank.js";
import { recordedRewards, scoredRewards } from "../../src/transforms/rewards.js";
import { chain, type Transform } from "../../src/transforms/transform.js";

/**
 * The transforms are pure: rows in, rows out, no model, no files. Each row here is what a scored row looks like:
 * its input (a JSON record), its task, and the fields the tool added.
 */
const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
let line = 0;
function scored(record: Record<string, unknown> | string, fields: Fields): OutRow {
    const text = typeof record === "string" ? record : JSON.stringify(record);
    const input: InputRow = { source: jsonl, line: ++line, text, ...parseRecord(text) };
    return { input, fields, task: input.record === undefined ? undefined : toScoringTask(input.record, defaultFields) };
}
const answer = (prompt: string, response: string, reward: number | null, error?: string) =>
    scored({ prompt, response }, error === undefined ? { reward } : { reward: null, error });
const run = (transform: Transform, rows: OutRow[]) => [...rows.flatMap((row) => transform.row(row)), ...transform.end()];

describe("filter", () => {
    it("bounds: rows outside go to the rejects with why, errors always do, kept rows stay in order", () => {
        const step = filterTransform(scoredRewards("reward"), { minReward: -2, maxReward: 1 }, groupKey(undefined));
        const out = run(step, [answer("q", "a", -1), answer("q", "b", -3), answer("q", "c", 2), answer("q", "d", null, "boom"), answer("q", "e", 0.5)]);
        expect(out.map(({ to, row }) => [to, row.input.record!["response"], row.fields["dropped"] ?? null])).toEqual([
            ["main", "a", null], ["rejects", "b", "reward below --min-reward -2"], ["rejects", "c", "reward above --max-reward 1"],
            ["rejects", "d", "error"], ["main", "e", null]]);
        expect(step.counts).toEqual({ kept: 2, dropped: 3, unscored: 1, noGroup: 0 });
    });

    it("--top-k: the K best of each run of rows sharing a prompt, equal rewards in input order; an error row does not split the run", () => {
        const step = filterTransform(scoredRewards("reward"), { topK: 2 }, groupKey(undefined));
        const out = run(step, [answer("p", "a", 1), answer("p", "b", 3), answer("p", "x", null, "bad"), answer("p", "c", 3), answer("q", "d", 0)]);
        expect(out.filter((e) => e.to === "main").map((e) => e.row.input.record!["response"])).toEqual(["b", "c", "d"]);
        expect(out.filter((e) => e.to === "rejects").map((e) => [e.row.input.record!["response"], e.row.fields["dropped"]]))
            .toEqual([["a", "not in the top 2 of its group"], ["x", "error"]]);
    });

    it("best-of-N: a row's responses split into a kept row and a rejected one, each with its own rewards, its text made to match", () => {
        const step = filterTransform(scoredRewards("reward"), { topK: 1 }, groupKey(undefined));
        const row = scored('{"id": 12345678901234567890, "prompt": "p", "responses": ["r0", "r1", "r2"]}', { rewards: [0.5, 2, -1], best: 1 });
        const [rejected, kept] = run(step, [row]);
        expect(kept).toMatchObject({ to: "main", row: { fields: { rewards: [2], best: 0 } } });
        expect(kept!.row.input.text).toBe('{"id": 12345678901234567890, "prompt": "p", "responses": ["r1"]}');
        expect(rejected).toMatchObject({ to: "rejects", row: { fields: { rewards: [0.5, -1], best: 0, dropped: "not in the top 1 of its group" } } });
        expect(rejected!.row.input.record!["responses"]).toEqual(["r0", "r2"]);
    });

    it("a preference pair is kept when both its rewards are inside the bounds", () => {
        const step = filterTransform(scoredRewards("reward"), { minReward: 0 }, groupKey(undefined));
        const out = run(step, [scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: -1, margin: 2 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: 0.5, margin: 0.5 })]);
        expect(out.map((e) => e.to)).toEqual(["rejects", "main"]);
    });
});

describe("rank", () => {
    it("rank 1 is the highest reward of each run of rows sharing a prompt (or --group-by), z standardised in it, error last", () => {
        const out = run(rankTransform(scoredRewards("reward"), groupKey(undefined)), [answer("p", "a", 1), answer("p", "b", 3), answer("p", "x", null, "bad"), answer("q", "c", 5)]);
        expect(out.map((e) => e.row.fields)).toEqual([
            { reward: 1, rank: 2, z: -1 }, { reward: 3, rank: 1, z: 1 }, { reward: null, rank: null, z: null, error: "bad" }, { reward: 5, rank: 1, z: 0 }]);
        expect(Object.keys(out[2]!.row.fields)).toEqual(["reward", "rank", "z", "error"]);
        const byId = run(rankTransform(scoredRewards("reward"), groupKey("g")), [scored({ g: 1, prompt: "p", response: "a" }, { reward: 1 }), scored({ g: 2, prompt: "p", response: "b" }, { reward: 2 })]);
        expect(byId.map((e) => e.row.fields["rank"])).toEqual([1, 1]);
    });
});

describe("pairs", () => {
    const plan = { field: "reward", fields: defaultFields, minMargin: 0, format: "trl-standard" as const };

    it("the best and the worst response of each prompt; a tie and a lone response are no pair; counted by outcome", () => {
        const step = pairsTransform(plan, scoredRewards("reward"), groupKey(undefined));
        const out = run(step, [answer("p", "a", 1), answer("p", "b", 3), answer("p", "c", 2), answer("q", "d", 1), answer("q", "e", 1), answer("r", "f", 0)]);
        expect(out.map((e) => e.row.input.record)).toEqual([{ prompt: "p", chosen: "b", rejected: "a", reward_chosen: 3, reward_rejected: 1, margin: 2 }]);
        expect(Object.fromEntries(step.outcomes)).toEqual({ written: 1, tie: 1, fewResponses: 1 });
    });

    it("a chosen + rejected row keeps its labels, and is no pair when the rejected response scored higher", () => {
        const step = pairsTransform({ ...plan, minMargin: 0.5 }, scoredRewards("reward"), groupKey(undefined));
        const out = run(step, [
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 2, reward_rejected: 1, margin: 1 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: 2, margin: -1 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1.2, reward_rejected: 1, margin: 0.2 }),
        ]);
        expect(out.map((e) => [e.row.input.record!["chosen"], e.row.input.record!["margin"]])).toEqual([["a", 1]]);
        expect(Object.fromEntries(step.outcomes)).toEqual({ written: 1, rejectedHigher: 1, belowMargin: 1 });
    });
});

describe("rewards a row already holds (filter, pairs --scored)", () => {
    const held = (record: Record<string, unknown> | string) => scored(record, {});
    it("reads a reward of any number type and a best-of-N list; says why a row has none", () => {
        const read = recordedRewards("reward").read;
        const csvRow: OutRow = { input: { source: { name: "in.csv", format: "csv" }, line: 2, text: "", record: { prompt: "p", response: "r", reward: "-1.50" } }, fields: {} };
        expect(read(csvRow)).toEqual([-1.5]);
        expect(read(held('{"prompt": "p", "response": "r", "reward": 12345678901234567890}'))).toEqual([12345678901234567890]);
        expect(read(held({ prompt: "p", responses: ["a", "b"], rewards: [1, 2.5] }))).toEqual([1, 2.5]);
        expect(read(held({ prompt: "p", chosen: "a", rejected: "b", reward_chosen: 1, reward_rejected: 0 }))).toEqual([1, 0]);
        expect(read(held({ prompt: "p", response: "r", reward: null, error: "too long" }))).toBe("error");
        expect(read(held({ prompt: "p", response: "r", reward: null, skipped: "too long" }))).toBe("skipped");
        expect(read(held({ prompt: "p", response: "r" }))).toBe('no "reward" field');
        expect(read(held({ prompt: "p", response: "r", reward: "high" }))).toBe('"reward" is not a number');
        expect(read(held({ prompt: "p", responses: ["a", "b"], rewards: [1] }))).toBe('"rewards" holds 1 reward for 2 responses');
        expect(recordedRewards("score").read(held({ prompt: "p", response: "r", score: 3 }))).toEqual([3]);
    });

    it("tells a row's kind by its values as score does: lists of answers (eval's --per-row rows), and a kind's columns all null in a row of another kind", () => {
        const read = recordedRewards("reward").read;
        expect(read(held({ prompt: "p", chosen: ["a", "b"], rejected: ["c"], reward_chosen: [1, 2], reward_rejected: [0.5] }))).toEqual([1, 2, 0.5]);
        // a Parquet file of single rows beside best-of-N rows: the single row's `responses` and `rewards` are null
        expect(read(held({ prompt: "p", response: "r", reward: -1.5, responses: null, rewards: null }))).toEqual([-1.5]);
    });

    it("a best-of-N row cut by --top-k keeps its responses, rewards and best in step, the record's other bytes as they were", () => {
        const step = filterTransform(recordedRewards("reward"), { topK: 1 }, groupKey(undefined));
        const out = run(step, [held('{"id": 7.50, "prompt": "p", "responses": ["a", "b", "c"], "rewards": [1, 3, 2], "best": 1}')]);
        expect(out.map((e) => [e.to, e.row.input.text])).toEqual([
            ["rejects", '{"id": 7.50, "prompt": "p", "responses": ["a","c"], "rewards": [1,2], "best": 1}'],
            ["main", '{"id": 7.50, "prompt": "p", "responses": ["b"], "rewards": [3], "best": 0}'],
        ]);
    });
});

describe("pairs in TRL's formats, with the input's other columns", () => {
    const plan = { field: "reward", fields: defaultFields, minMargin: 0, format: "trl-conversational" as const, groupBy: "prompt_id" };
    it("conversational: the prompt's messages with the system message, chosen and rejected as one assistant message each; lineage once or per side", () => {
        const step = pairsTransform(plan, scoredRewards("reward"), groupKey("prompt_id"));
        const row = (i: number, response: string, reward: number) =>
            scored({ prompt_id: "q1", sample_idx: i, model: `m${i}`, system: "Be brief.", prompt: "p", response }, { reward });
        const out = run(step, [row(0, "a", 1), row(1, "b", 3), row(2, "c", 2)]);
        expect(out.map((e) => e.row.input.record)).toEqual([{
            prompt: [{ role: "system", content: "Be brief." }, { role: "user", content: "p" }],
            chosen: [{ role: "assistant", content: "b" }], rejected: [{ role: "assistant", content: "a" }],
            reward_chosen: 3, reward_rejected: 1, margin: 2,
            prompt_id: "q1", chosen_sample_idx: 1, rejected_sample_idx: 0, chosen_model: "m1", rejected_model: "m0",
        }]);
        const one = run(pairsTransform(plan, scoredRewards("reward"), groupKey(undefined)),
            [scored({ id: 9, prompt: "p", responses: ["x", "y"] }, { rewards: [0, 1], best: 1 })]);
        expect(one[0]!.row.input.record).toMatchObject({ chosen: [{ role: "assistant", content: "y" }], id: 9 });
    });

    it("standard: a system message cannot go in a plain-text prompt: no pair, counted", () => {
        const step = pairsTransform({ ...plan, format: "trl-standard" }, scoredRewards("reward"), groupKey(undefined));
        const out = run(step, [scored({ system: "s", prompt: "p", responses: ["x", "y"] }, { rewards: [0, 1], best: 1 }),
            scored({ prompt: "p", responses: ["x", "y"] }, { rewards: [0, 1], best: 1 })]);
        expect(out.map((e) => e.row.input.record)).toEqual([{ prompt: "p", chosen: "y", rejected: "x", reward_chosen: 1, reward_rejected: 0, margin: 1 }]);
        expect(Object.fromEntries(step.outcomes)).toEqual({ written: 1, notStandard: 1 });
    });
});

describe("chain", () => {
    it("a row sent to the rejects skips the transforms after it; the others see every kept row", () => {
        const seen: string[] = [];
        const spy: Transform = { row: (row) => (seen.push(String(row.input.record!["response"])), [{ to: "main", row }]), end: () => [] };
        const out = run(chain([filterTransform(scoredRewards("reward"), { minReward: 0 }, groupKey(undefined)), spy]), [answer("p", "a", 1), answer("p", "b", -1)]);
        expect(out.map((e) => e.to)).toEqual(["main", "rejects"]);
        expect(seen).toEqual(["a"]);
    });
});

describe("group keys are values (hostile report 4, #12)", () => {
    it("numbers of any type equal by value, JSON text by what it writes, strings apart from numbers", async () => {
        const { valueKey } = await import("../../src/transforms/groups.js");
        const { Decimal, Float32, JsonText } = await import("../../src/records/values.js");
        expect(new Set([valueKey(1), valueKey(1n), valueKey(new Decimal(10n, 1)), valueKey(new Decimal(1n, -0)), valueKey(new Float32(1)), valueKey(-0 + 1)]).size).toBe(1);
        expect(valueKey(0)).toBe(valueKey(-0));
        expect(valueKey(9007199254740993n)).not.toBe(valueKey(9007199254740992n));
        expect(valueKey(new Decimal(15n, 1))).toBe(valueKey(1.5));
        expect(valueKey("1")).not.toBe(valueKey(1));
        expect(valueKey(new JsonText('{ "a" : 1.0, "b":"\\u0041" }'))).toBe(valueKey({ a: 1, b: "A" }));
        expect(valueKey({ a: 1, b: 2 })).not.toBe(valueKey({ b: 2, a: 1 }));
    });
});
