import { responsesOf } from "../conversation/scoringTask.js";
import type { ConversationFields } from "../conversation/toConversation.js";
import type { OutRow } from "../conversation/scoringTask.js";
import type { Fields, Value } from "../records/values.js";
import { groupRuns, ownGroup } from "./groups.js";
import type { Emitted, Transform } from "./transform.js";

/** What became of a group: a pair written, or why none was. */
export type Outcome = "written" | "fewResponses" | "tie" | "belowMargin" | "rejectedHigher";

type Candidate = { response: Value; reward: number };

export type PairsPlan = { field: string; fields: ConversationFields; minMargin: number };

/**
 * DPO pairs `{prompt, chosen, rejected}` (plus their rewards and margin): a chosen + rejected row as it is, when
 * chosen scores higher; else the best and the worst response of each row holding several (best-of-N, response_1 +
 * response_2) or of each run of rows sharing a prompt. A tie is never a pair. `outcomes` counts what became of each group.
 */
export function pairsTransform(plan: PairsPlan, byPrompt: (row: OutRow) => string | undefined): Transform & { outcomes: Map<Outcome, number> } {
    const outcomes = new Map<Outcome, number>();
    // a row that holds its own responses is a group of its own
    const keyOf = (row: OutRow) => (row.task !== undefined && row.task.kind !== "single" ? ownGroup(row) : byPrompt(row));
    const runs = groupRuns(keyOf, (group): Emitted[] => {
        const { outcome, pair } = pairOf(group, plan);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        const first = group[0]!;
        return pair === undefined ? [] : [{ to: "main", row: { input: { source: first.input.source, line: first.input.line, text: "", record: pair }, fields: {} } }];
    });
    return { ...runs, outcomes };
}

function pairOf(group: OutRow[], plan: PairsPlan): { outcome: Outcome; pair?: Fields } {
    const first = group[0]!;
    const candidates = candidatesOf(group, plan);
    if (candidates.length < 2) return { outcome: "fewResponses" };
    // chosen + rejected keep their labels; otherwise the best response is chosen and the worst rejected
    const [chosen, rejected] = first.task?.kind === "chosenRejected" ? candidates as [Candidate, Candidate]
        : [candidates.reduce((a, b) => (b.reward > a.reward ? b : a)), candidates.reduce((a, b) => (b.reward < a.reward ? b : a))];
    const margin = chosen.reward - rejected.reward;
    const outcome: Outcome = margin === 0 ? "tie" : margin < 0 ? "rejectedHigher" : margin < plan.minMargin ? "belowMargin" : "written";
    if (outcome !== "written") return { outcome };
    const record = first.input.record ?? {};
    const prompt = record[plan.fields.prompt] ?? first.task!.conversations[0]!.slice(0, -1);
    return { outcome, pair: { prompt, chosen: chosen.response, rejected: rejected.response, [`${plan.field}_chosen`]: chosen.reward, [`${plan.field}_rejected`]: rejected.reward, margin } };
}

/** The scored responses of a group, each with its reward. */
function candidatesOf(group: OutRow[], { field, fields: names }: PairsPlan): Candidate[] {
    const { task, fields, input } = group[0]!;
    const record = input.record ?? {};
    const scored = (keys: string[], rewards: unknown[]) => rewards.every((r) => typeof r === "number")
        ? rewards.map((reward, i) => ({ response: record[keys[i]!] ?? null, reward: reward as number })) : [];
    switch (task?.kind) {
        case "chosenRejected":
            return scored(["chosen", "rejected"], [fields[`${field}_chosen`], fields[`${field}_rejected`]]);
        case "pair":
            return scored(["response_1", "response_2"], [fields[`${field}_1`], fields[`${field}_2`]]);
        case "bestOfN":
            return ((fields[`${field}s`] as number[] | null) ?? []).map((reward, i) => ({ response: (responsesOf(record) as Value[])[i]!, reward }));
        default:
            return group.filter((row) => typeof row.fields[field] === "number").map((row) => ({
                response: row.input.record?.[names.response] ?? row.task!.conversations[0]!.at(-1)!.content,
                reward: row.fields[field] as number,
            }));
    }
}

/** "wrote 2 pairs from 5 prompts; not written: 1 tie, ...": a warning when nothing was written. */
export function pairsReport(outcomes: Map<Outcome, number>, minMargin: number): { warn: boolean; message: string } {
    const count = (outcome: Outcome) => outcomes.get(outcome) ?? 0;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    const groups = [...outcomes.values()].reduce((a, b) => a + b, 0);
    const reasons = [
        [count("fewResponses"), "with fewer than 2 scored responses"],
        [count("tie"), count("tie") === 1 ? "tie" : "ties"],
        [count("belowMargin"), `below --min-margin ${minMargin}`],
        [count("rejectedHigher"), "where the rejected response scored higher"],
    ] as const;
    const dropped = reasons.filter(([n]) => n > 0).map(([n, why]) => `${n} ${why}`).join(", ");
    const written = count("written");
    if (written > 0 || groups === 0)
        return { warn: false, message: `wrote ${plural(written, "pair")} from ${plural(groups, "prompt")}${dropped === "" ? "" : `; not written: ${dropped}`}` };
    const hint = count("fewResponses") > 0
        ? " (a pair compares responses to one prompt: a responses list, chosen + rejected, response_1 + response_2, or adjacent rows sharing a prompt)" : "";
    return { warn: true, message: `wrote no pairs from ${plural(groups, "prompt")}: ${dropped}${hint}` };
}
