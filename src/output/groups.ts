import { joinOutput, type Output, type OutputRow, type RowWriter } from "./formats.js";

/**
 * The key of the group a row belongs to: `--group-by FIELD`, else its prompt (every message but the last).
 * Undefined for a row that shows no key (no record, no conversation): it stays in the group it is in.
 */
export function groupKey(groupBy: string | undefined): (row: OutputRow) => string | undefined {
    return (row) => {
        if (groupBy !== undefined) return row.input.record === undefined ? undefined : JSON.stringify(row.input.record[groupBy] ?? null);
        const conversation = row.task?.conversations[0];
        return conversation === undefined ? undefined : JSON.stringify(conversation.slice(0, -1));
    };
}

/**
 * Holds back runs of consecutive rows with the same key and hands each run over whole when it ends.
 * Groups are runs, not global: the output keeps streaming, so rows of one prompt must be adjacent (as
 * best-of-N files write them); sort by prompt first otherwise.
 */
export function groupingWriter(keyOf: (row: OutputRow) => string | undefined, onGroup: (group: OutputRow[]) => Output, end: RowWriter["end"]): RowWriter {
    let group: OutputRow[] = [];
    let key: string | undefined;
    const flush = () => {
        const text = group.length === 0 ? "" : onGroup(group);
        group = [];
        return text;
    };
    return {
        row(out) {
            // a row without a key (an unreadable row) neither ends the group it is in nor starts one
            const k = keyOf(out);
            const text = k === undefined || k === key ? "" : flush();
            key = k ?? key;
            group.push(out);
            return text;
        },
        end: (inputHeader) => joinOutput([flush(), end(inputHeader)]),
    };
}

/** Adds `rank` (1 = highest reward in the group) and `z` (the reward standardised within the group). */
export function rankingWriter(inner: RowWriter, field: string, keyOf: (row: OutputRow) => string | undefined): RowWriter {
    return groupingWriter(keyOf, (group) => {
        const rewards = group.map((row) => row.fields[field]).filter((r): r is number => typeof r === "number");
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        const sd = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
        return joinOutput(group.map((row) => {
            const r = row.fields[field];
            const { error, ...fields } = row.fields;
            const ranked = typeof r === "number"
                ? { rank: 1 + rewards.filter((other) => other > r).length, z: sd > 0 ? (r - mean) / sd : 0 }
                : { rank: null, z: null };
            return inner.row({ ...row, fields: { ...fields, ...ranked, ...(error === undefined ? {} : { error }) } });
        }));
    }, inner.end);
}
