import type { OutRow } from "../conversation/scoringTask.js";
import type { Fields } from "../records/values.js";
import { plural } from "../plural.js";
import { compareExact, type RewardSource } from "./rewards.js";
import { groupRuns, missingGroupField, ownGroup } from "./groups.js";
import { where } from "../records/row.js";
import type { Emitted, Transform } from "./transform.js";

/** `--min-reward`, `--max-reward`, `--top-k`: which rows (and best-of-N responses) are kept. */
export type FilterPlan = { minReward?: number; maxReward?: number; topK?: number; groupBy?: string };

/** What a filter did, for the summary line. */
export type FilterCounts = { kept: number; dropped: number; unscored: number; noGroup: number };

/**
 * Keeps the rows inside the reward bounds and among the `topK` best of their group; every other row goes to the
 * rejects, with `dropped` saying why. A group is a run of rows with the same key (`--group-by`, else the prompt; a
 * row without one stays in the run it is in); a best-of-N row is its own group, and its responses are split between
 * a kept row and a rejected one. A preference pair is kept when both its rewards are inside the bounds. Rows that
 * could not be scored (errors, skipped) always go to the rejects.
 */
export function filterTransform(rewards: RewardSource, filter: FilterPlan, keyOf: (row: OutRow) => string | undefined,
    warn: (message: string) => void = () => undefined, keepText = false): Transform & { counts: FilterCounts } {
    const counts: FilterCounts = { kept: 0, dropped: 0, unscored: 0, noGroup: 0 };
    const reject = (row: OutRow, why: string, unscored = false): Emitted => {
        counts.dropped++;
        if (unscored) counts.unscored++;
        // a line that could not be read keeps its text, so that the kept rows and the rejects hold the whole input
        const text: Fields = keepText && row.input.record === undefined && row.input.text !== "" ? { text: row.input.text } : {};
        return { to: "rejects", row: { ...row, fields: { ...row.fields, dropped: why, ...text } } };
    };
    const keep = (row: OutRow): Emitted => {
        counts.kept++;
        return { to: "main", row };
    };
    // a reward whose double is the bound's compares by its exact decimal, when the record holds one
    const below = (reward: number, bound: number, exact: string | undefined) => reward < bound || (reward === bound && exact !== undefined && compareExact(exact, bound) < 0);
    const above = (reward: number, bound: number, exact: string | undefined) => reward > bound || (reward === bound && exact !== undefined && compareExact(exact, bound) > 0);
    const outOfBounds = (reward: number, exact?: string): string | undefined =>
        filter.minReward !== undefined && below(reward, filter.minReward, exact) ? `reward below --min-reward ${filter.minReward}`
        : filter.maxReward !== undefined && above(reward, filter.maxReward, exact) ? `reward above --max-reward ${filter.maxReward}`
        : undefined;
    const notTop = `not in the top ${filter.topK} of its group`;
    /** Indexes of the `topK` highest rewards (earlier first among equals); all of them without --top-k. */
    const best = (values: (number | undefined)[]): Set<number> => {
        const order = values.flatMap((r, i) => (r === undefined ? [] : [i])).sort((a, b) => values[b]! - values[a]! || a - b);
        return new Set(order.slice(0, filter.topK ?? order.length));
    };

    const bestOfN = (row: OutRow, values: number[]): Emitted[] => {
        const top = best(values);
        const why = values.map((r, i) => outOfBounds(r) ?? (top.has(i) ? undefined : notTop));
        const part = (indexes: number[]): OutRow => (indexes.length === values.length ? row : rewards.part(row, indexes));
        const keptIndexes = values.flatMap((_, i) => (why[i] === undefined ? [i] : []));
        const droppedIndexes = values.flatMap((_, i) => (why[i] === undefined ? [] : [i]));
        return [
            ...(droppedIndexes.length > 0 ? [reject(part(droppedIndexes), [...new Set(droppedIndexes.map((i) => why[i]))].join("; "))] : []),
            ...(keptIndexes.length > 0 ? [keep(part(keptIndexes))] : []),
        ];
    };

    const decide = (group: OutRow[]): Emitted[] => {
        const read = group.map((row) => rewards.read(row));
        const top = best(group.map((row, i) => (row.task?.kind === "single" && typeof read[i] !== "string" && (alone(row) || !missingGroupField(filter.groupBy, row)) ? read[i]![0] : undefined)));
        return group.flatMap((row, i) => {
            const values = read[i]!;
            // a row with no --group-by field is in no group: not judged (it is not its neighbours' to rank against)
            if (!alone(row) && missingGroupField(filter.groupBy, row)) {
                // named once (a typo in --group-by would name every row); the summary counts them
                if (++counts.noGroup === 1) warn(`${where(row.input)}: no field "${filter.groupBy}" to group by: not judged, nor any other row without it (they go to the rejects)`);
                return [reject(row, `no field ${filter.groupBy}`, true)];
            }
            if (typeof values === "string" || row.task === undefined) return [reject(row, typeof values === "string" ? values : "error", true)];
            if (row.task.kind === "bestOfN") return bestOfN(row, values);
            const exact = rewards.exact?.(row) ?? [];
            const why = values.map((r, j) => outOfBounds(r, exact[j])).find((w) => w !== undefined) ?? (row.task.kind === "single" && !top.has(i) ? notTop : undefined);
            return [why === undefined ? keep(row) : reject(row, why)];
        });
    };

    // without --top-k each row is decided alone; with it, a run of rows of one key, and a best-of-N or pair row on its own
    const alone = (row: OutRow) => filter.topK === undefined || (row.task !== undefined && row.task.kind !== "single");
    const runs = groupRuns((row) => (alone(row) ? ownGroup(row) : keyOf(row)), decide);
    return { ...runs, counts };
}

/** The summary's part for a filter: "; kept 3 rows, dropped 2 (1 without a reward) to rejects.jsonl". */
export function filterSummary(counts: FilterCounts, rejects: string | undefined): string {
    const why = [counts.unscored - counts.noGroup > 0 ? `${counts.unscored - counts.noGroup} without a reward` : "", counts.noGroup > 0 ? `${counts.noGroup} without the --group-by field` : ""].filter((w) => w !== "");
    return `; kept ${plural(counts.kept, "row")}, dropped ${counts.dropped}${why.length > 0 ? ` (${why.join(", ")})` : ""}` +
        (rejects !== undefined ? ` to ${rejects}` : counts.dropped > 0 ? ": --rejects FILE keeps them" : "");
}
