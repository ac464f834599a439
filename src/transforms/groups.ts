import { fieldJson, where } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";

/**
 * The key of the group a row belongs to: `--group-by FIELD` (the field's JSON text, as the input wrote it, so that a
 * value nested any deep is a key like any other), else its prompt (every message but the last). Undefined for a row
 * that shows no key (no record, no conversation): it stays in the group it is in.
 */
export function groupKey(groupBy: string | undefined): (row: OutRow) => string | undefined {
    return (row) => {
        if (groupBy !== undefined) return row.input.record === undefined ? undefined : fieldJson(row.input, groupBy, true);
        const conversation = row.task?.conversations[0];
        return conversation === undefined ? undefined : JSON.stringify(conversation.slice(0, -1));
    };
}

/** A key of its own: a row that holds several responses (best-of-N, a pair) is a group by itself. */
export function ownGroup(row: OutRow): string {
    return `\u0000${where(row.input)}`;
}

/**
 * Runs of consecutive rows with the same key, each handed over whole when it ends. Groups are runs, not global: the
 * output keeps streaming, so rows of one prompt must be adjacent (as best-of-N files write them); sort first otherwise.
 */
export function groupRuns<T>(keyOf: (row: OutRow) => string | undefined, onGroup: (group: OutRow[]) => T[]): { row(row: OutRow): T[]; end(): T[] } {
    let group: OutRow[] = [];
    let key: string | undefined;
    const flush = () => {
        const out = group.length === 0 ? [] : onGroup(group);
        group = [];
        return out;
    };
    return {
        row(row) {
            // a row without a key (an unreadable row) neither ends the group it is in nor starts one
            const k = keyOf(row);
            const out = k === undefined || k === key ? [] : flush();
            key = k ?? key;
            group.push(row);
            return out;
        },
        end: flush,
    };
}
