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
        const step = filterTransform("reward", { minReward: -2, maxReward: 1 }, groupKey(undefined));
        const out = run(step, [answer("q", "a", -1), answer("q", "b", -3), answer("q", "c", 2), answer("q", "d", null, "boom"), answer("q", "e", 0.5)]);
        expect(out.map(({ to, row }) => [to, row.input.record!["response"], row.fields["dropped"] ?? null])).toEqual([
            ["main", "a", null], ["rejects", "b", "reward below --min-reward -2"], ["rejects", "c", "reward above --max-reward 1"],
            ["rejects", "d", "error"], ["main", "e", null]]);
        expect(step.counts).toEqual({ kept: 2, dropped: 3, errors: 1 });
    });

    it("--top-k: the K best of each run of rows sharing a prompt, equal rewards in input order; an error row does not split the run", () => {
        const step = filterTransform("reward", { topK: 2 }, groupKey(undefined));
        const out = run(step, [answer("p", "a", 1), answer("p", "b", 3), answer("p", "x", null, "bad"), answer("p", "c", 3), answer("q", "d", 0)]);
        expect(out.filter((e) => e.to === "main").map((e) => e.row.input.record!["response"])).toEqual(["b", "c", "d"]);
        expect(out.filter((e) => e.to === "rejects").map((e) => [e.row.input.record!["response"], e.row.fields["dropped"]]))
            .toEqual([["a", "not in the top 2 of its group"], ["x", "error"]]);
    });

    it("best-of-N: a row's responses split into a kept row and a rejected one, each with its own rewards, its text made to match", () => {
        const step = filterTransform("reward", { topK: 1 }, groupKey(undefined));
        const row = scored('{"id": 12345678901234567890, "prompt": "p", "responses": ["r0", "r1", "r2"]}', { rewards: [0.5, 2, -1], best: 1 });
        const [rejected, kept] = run(step, [row]);
        expect(kept).toMatchObject({ to: "main", row: { fields: { rewards: [2], best: 0 } } });
        expect(kept!.row.input.text).toBe('{"id": 12345678901234567890, "prompt": "p", "responses": ["r1"]}');
        expect(rejected).toMatchObject({ to: "rejects", row: { fields: { rewards: [0.5, -1], best: 0, dropped: "not in the top 1 of its group" } } });
        expect(rejected!.row.input.record!["responses"]).toEqual(["r0", "r2"]);
    });

    it("a preference pair is kept when both its rewards are inside the bounds", () => {
        const step = filterTransform("reward", { minReward: 0 }, groupKey(undefined));
        const out = run(step, [scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: -1, margin: 2 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: 0.5, margin: 0.5 })]);
        expect(out.map((e) => e.to)).toEqual(["rejects", "main"]);
    });
});

describe("rank", () => {
    it("rank 1 is the highest reward of each run of rows sharing a prompt (or --group-by), z standardised in it, error last", () => {
        const out = run(rankTransform("reward", groupKey(undefined)), [answer("p", "a", 1), answer("p", "b", 3), answer("p", "x", null, "bad"), answer("q", "c", 5)]);
        expect(out.map((e) => e.row.fields)).toEqual([
            { reward: 1, rank: 2, z: -1 }, { reward: 3, rank: 1, z: 1 }, { reward: null, rank: null, z: null, error: "bad" }, { reward: 5, rank: 1, z: 0 }]);
        expect(Object.keys(out[2]!.row.fields)).toEqual(["reward", "rank", "z", "error"]);
        const byId = run(rankTransform("reward", groupKey("g")), [scored({ g: 1, prompt: "p", response: "a" }, { reward: 1 }), scored({ g: 2, prompt: "p", response: "b" }, { reward: 2 })]);
        expect(byId.map((e) => e.row.fields["rank"])).toEqual([1, 1]);
    });
});

describe("pairs", () => {
    const plan = { field: "reward", fields: defaultFields, minMargin: 0 };

    it("the best and the worst response of each prompt; a tie and a lone response are no pair; counted by outcome", () => {
        const step = pairsTransform(plan, groupKey(undefined));
        const out = run(step, [answer("p", "a", 1), answer("p", "b", 3), answer("p", "c", 2), answer("q", "d", 1), answer("q", "e", 1), answer("r", "f", 0)]);
        expect(out.map((e) => e.row.input.record)).toEqual([{ prompt: "p", chosen: "b", rejected: "a", reward_chosen: 3, reward_rejected: 1, margin: 2 }]);
        expect(Object.fromEntries(step.outcomes)).toEqual({ written: 1, tie: 1, fewResponses: 1 });
    });

    it("a chosen + rejected row keeps its labels, and is no pair when the rejected response scored higher", () => {
        const step = pairsTransform({ ...plan, minMargin: 0.5 }, groupKey(undefined));
        const out = run(step, [
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 2, reward_rejected: 1, margin: 1 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1, reward_rejected: 2, margin: -1 }),
            scored({ prompt: "p", chosen: "a", rejected: "b" }, { reward_chosen: 1.2, reward_rejected: 1, margin: 0.2 }),
        ]);
        expect(out.map((e) => [e.row.input.record!["chosen"], e.row.input.record!["margin"]])).toEqual([["a", 1]]);
        expect(Object.fromEntries(step.outcomes)).toEqual({ written: 1, rejectedHigher: 1, belowMargin: 1 });
    });
});

describe("chain", () => {
    it("a row sent to the rejects skips the transforms after it; the others see every kept row", () => {
        const seen: string[] = [];
        const spy: Transform = { row: (row) => (seen.push(String(row.input.record!["response"])), [{ to: "main", row }]), end: () => [] };
        const out = run(chain([filterTransform("reward", { minReward: 0 }, groupKey(undefined)), spy]), [answer("p", "a", 1), answer("p", "b", -1)]);
        expect(out.map((e) => e.to)).toEqual(["main", "rejects"]);
        expect(seen).toEqual(["a"]);
    });
});
