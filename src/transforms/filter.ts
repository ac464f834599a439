import { responsesOf } from "../conversation/scoringTask.js";
import { withField } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import type { Value } from "../records/values.js";
import { groupRuns, ownGroup } from "./groups.js";
import type { Emitted, Transform } from "./transform.js";

/** `--min-reward`, `--max-reward`, `--top-k`: which rows (and best-of-N responses) are kept. */
export type FilterPlan = { minReward?: number; maxReward?: number; topK?: number };

/** What a filter did, for the summary line. */
export type FilterCounts = { kept: number; dropped: number; errors: number };

/**
 * Keeps the rows inside the reward bounds and among the `topK` best of their group; every other row goes to the
 * rejects, with `dropped` saying why. A group is a run of rows with the same key (`--group-by`, else the prompt; a
 * row without one stays in the run it is in); a best-of-N row is its own group, and its responses are split between
 * a kept row and a rejected one. A preference pair is kept when both its rewards are inside the bounds. Rows that
 * could not be scored (errors, skipped) always go to the rejects.
 */
export function filterTransform(field: string, filter: FilterPlan, keyOf: (row: OutRow) => string | undefined): Transform & { counts: FilterCounts } {
    const counts: FilterCounts = { kept: 0, dropped: 0, errors: 0 };
    const reject = (row: OutRow, why: string): Emitted => {
        counts.dropped++;
        if (row.fields["error"] != null) counts.errors++;
        return { to: "rejects", row: { ...row, fields: { ...row.fields, dropped: why } } };
    };
    const keep = (row: OutRow): Emitted => {
        counts.kept++;
        return { to: "main", row };
    };
    const outOfBounds = (reward: number): string | undefined =>
        filter.minReward !== undefined && reward < filter.minReward ? `reward below --min-reward ${filter.minReward}`
        : filter.maxReward !== undefined && reward > filter.maxReward ? `reward above --max-reward ${filter.maxReward}`
        : undefined;
    const notTop = `not in the top ${filter.topK} of its group`;
    /** Indexes of the `topK` highest rewards (earlier first among equals); all of them without --top-k. */
    const best = (rewards: (number | undefined)[]): Set<number> => {
        const order = rewards.flatMap((r, i) => (r === undefined ? [] : [i])).sort((a, b) => rewards[b]! - rewards[a]! || a - b);
        return new Set(order.slice(0, filter.topK ?? order.length));
    };

    const bestOfN = (row: OutRow): Emitted[] => {
        const rewards = row.fields[`${field}s`] as number[];
        const top = best(rewards);
        const why = rewards.map((r, i) => outOfBounds(r) ?? (top.has(i) ? undefined : notTop));
        const original = row.input.record!["responses"]!;
        const responses = responsesOf(row.input.record!) as Value[];
        const part = (indexes: number[]): OutRow => {
            if (indexes.length === rewards.length) return row;
            const subset = indexes.map((i) => rewards[i]!);
            const kept = indexes.map((i) => responses[i]!);
            // a CSV cell holds the list as JSON text: the part's cell holds the part's list
            const value: Value = typeof original === "string" ? JSON.stringify(kept) : kept;
            return { ...row, input: withField(row.input, "responses", value), fields: { ...row.fields, [`${field}s`]: subset, best: subset.indexOf(Math.max(...subset)) } };
        };
        const keptIndexes = rewards.flatMap((_, i) => (why[i] === undefined ? [i] : []));
        const droppedIndexes = rewards.flatMap((_, i) => (why[i] === undefined ? [] : [i]));
        return [
            ...(droppedIndexes.length > 0 ? [reject(part(droppedIndexes), [...new Set(droppedIndexes.map((i) => why[i]))].join("; "))] : []),
            ...(keptIndexes.length > 0 ? [keep(part(keptIndexes))] : []),
        ];
    };

    const decide = (group: OutRow[]): Emitted[] => {
        const rewardOf = (row: OutRow) => {
            const r = row.fields[field];
            return row.task?.kind === "single" && typeof r === "number" ? r : undefined;
        };
        const top = best(group.map(rewardOf));
        return group.flatMap((row, i) => {
            const unscored = row.fields["error"] != null ? "error" : row.fields["skipped"] != null ? "skipped" : undefined;
            if (unscored !== undefined || row.task === undefined) return [reject(row, unscored ?? "error")];
            if (row.task.kind === "bestOfN") return bestOfN(row);
            const rewards = row.task.kind === "single" ? [rewardOf(row)!]
                : Object.entries(row.fields).filter(([name]) => name.startsWith(`${field}_`)).map(([, r]) => r as number);
            const why = rewards.map(outOfBounds).find((w) => w !== undefined) ?? (row.task.kind === "single" && !top.has(i) ? notTop : undefined);
            return [why === undefined ? keep(row) : reject(row, why)];
        });
    };

    // without --top-k each row is decided alone; with it, a run of rows of one key, and a best-of-N or pair row on its own
    const alone = (row: OutRow) => filter.topK === undefined || (row.task !== undefined && row.task.kind !== "single");
    const runs = groupRuns((row) => (alone(row) ? ownGroup(row) : keyOf(row)), decide);
    return { ...runs, counts };
}

/** The summary's part for a filter: "; kept 3 rows, dropped 2 (1 errors) to rejects.jsonl". */
export function filterSummary(counts: FilterCounts, rejects: string | undefined): string {
    return `; kept ${counts.kept} rows, dropped ${counts.dropped} (${counts.errors} errors)` +
        (rejects !== undefined ? ` to ${rejects}` : counts.dropped > 0 ? ": --rejects FILE keeps them" : "");
}
