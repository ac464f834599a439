import { closeSync, openSync, writeSync } from "node:fs";
import { hasJsonText, type InputRow } from "../input/inputRow.js";
import { jsonText } from "../input/readParquet.js";
import { responsesOf } from "../conversation/scoringTask.js";
import { cell, quoteField } from "./delimited.js";
import { joinOutput, type Output, type OutputRow, type RowWriter } from "./formats.js";
import { groupingWriter } from "./groups.js";
import { jsonlLine } from "./jsonl.js";

/** `--min-reward`, `--max-reward`, `--top-k`: which rows (and best-of-N responses) are kept. */
export type FilterOptions = { minReward?: number; maxReward?: number; topK?: number; rejectsPath?: string };

/** Where dropped rows go: a writer of the rejects file's format (with a `dropped` column) and its file. */
export type Rejects = { writer: RowWriter; path: string };

/**
 * Keeps the rows inside the reward bounds and among the `topK` best of their group; every other row goes to the
 * rejects file, with `dropped` saying why, and is counted in the summary. A group is a run of rows with the same key
 * (`--group-by`, else the prompt; a row without one stays in the run it is in); a best-of-N row is its own group, and its responses are split between a kept row
 * and a rejected one. A preference pair is kept when both its rewards are inside the bounds. Rows that could not be
 * scored (errors, skipped) always go to the rejects.
 */
export function filterWriter(kept: RowWriter, rejects: Rejects | undefined, field: string, options: FilterOptions, keyOf: (row: OutputRow) => string | undefined) {
    const fd = rejects === undefined ? undefined : openSync(rejects.path, "w");
    const counts = { kept: 0, dropped: 0, errors: 0 };
    const reject = (row: OutputRow, why: string) => {
        counts.dropped++;
        if (row.fields["error"] != null) counts.errors++;
        if (rejects !== undefined) write(rejects.writer.row({ ...row, fields: { ...row.fields, dropped: why } }));
    };
    const write = (output: Output) => {
        if (output.length > 0) writeSync(fd!, typeof output === "string" ? Buffer.from(output) : output);
    };
    const keep = (row: OutputRow): Output => {
        counts.kept++;
        return kept.row(row);
    };
    const outOfBounds = (reward: number): string | undefined =>
        options.minReward !== undefined && reward < options.minReward ? `reward below --min-reward ${options.minReward}`
        : options.maxReward !== undefined && reward > options.maxReward ? `reward above --max-reward ${options.maxReward}`
        : undefined;
    const notTop = `not in the top ${options.topK} of its group`;
    /** Indexes of the `topK` highest rewards (earlier first among equals); all of them without --top-k. */
    const best = (rewards: (number | undefined)[]): Set<number> => {
        const order = rewards.flatMap((r, i) => (r === undefined ? [] : [i])).sort((a, b) => rewards[b]! - rewards[a]! || a - b);
        return new Set(order.slice(0, options.topK ?? order.length));
    };

    const bestOfN = (row: OutputRow): Output => {
        const rewards = row.fields[`${field}s`] as number[];
        const top = best(rewards);
        const why = rewards.map((r, i) => outOfBounds(r) ?? (top.has(i) ? undefined : notTop));
        const responses = responsesOf(row.input.record!);
        const part = (indexes: number[]): OutputRow => {
            if (indexes.length === rewards.length) return row;
            const subset = indexes.map((i) => rewards[i]!);
            return { ...row, input: withResponses(row.input, indexes.map((i) => responses[i])),
                fields: { ...row.fields, [`${field}s`]: subset, best: subset.indexOf(Math.max(...subset)) } };
        };
        const keptIndexes = rewards.flatMap((_, i) => (why[i] === undefined ? [i] : []));
        const droppedIndexes = rewards.flatMap((_, i) => (why[i] === undefined ? [] : [i]));
        if (droppedIndexes.length > 0) reject(part(droppedIndexes), [...new Set(droppedIndexes.map((i) => why[i]))].join("; "));
        return keptIndexes.length > 0 ? keep(part(keptIndexes)) : "";
    };

    const decide = (group: OutputRow[]): Output => {
        const rewardOf = (row: OutputRow) => {
            const r = row.fields[field];
            return row.task?.kind === "single" && typeof r === "number" ? r : undefined;
        };
        const top = best(group.map(rewardOf));
        return joinOutput(group.map((row, i) => {
            const unscored = row.fields["error"] != null ? "error" : row.fields["skipped"] != null ? "skipped" : undefined;
            if (unscored !== undefined || row.task === undefined) {
                reject(row, unscored ?? "error");
                return "";
            }
            if (row.task.kind === "bestOfN") return bestOfN(row);
            const rewards = row.task.kind === "single" ? [rewardOf(row)!]
                : Object.entries(row.fields).filter(([name]) => name.startsWith(`${field}_`)).map(([, r]) => r as number);
            const why = rewards.map(outOfBounds).find((w) => w !== undefined) ?? (row.task.kind === "single" && !top.has(i) ? notTop : undefined);
            if (why === undefined) return keep(row);
            reject(row, why);
            return "";
        }));
    };

    // without --top-k each row is decided alone; with it, a run of rows of one key, and a best-of-N or pair row on its own
    const alone = (row: OutputRow) => options.topK === undefined || (row.task !== undefined && row.task.kind !== "single");
    const groupOf = (row: OutputRow) => (alone(row) ? `\u0000${row.input.source}:${row.input.line}` : keyOf(row));
    const writer = groupingWriter(groupOf, decide, () => {
        if (rejects !== undefined) {
            write(rejects.writer.end());
            closeSync(fd!);
        }
        return kept.end();
    });
    return {
        ...writer,
        summary: () => `; kept ${counts.kept} rows, dropped ${counts.dropped} (${counts.errors} errors)` +
            (rejects !== undefined ? ` to ${rejects.path}` : counts.dropped > 0 ? ": --rejects FILE keeps them" : ""),
    };
}

/** A best-of-N row holding only some of its responses, in the row's own format. */
function withResponses(input: InputRow, responses: unknown[]): InputRow {
    const original = input.record!["responses"];
    const record: Record<string, unknown> = { ...input.record, responses: typeof original === "string" ? JSON.stringify(responses) : responses };
    const text = input.format === "parquet" ? jsonText(record)
        : hasJsonText(input.format) ? jsonlLine(input, { responses: record["responses"] })
        : input.header!.names.map((name) => quoteField(cell(record[name]), input.header!.delimiter)).join(input.header!.delimiter);
    return { ...input, record, text };
}
