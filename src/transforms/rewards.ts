import { recordKind, responsesOf, type OutRow, type TaskKind } from "../conversation/scoringTask.js";
import { parsedJson } from "../conversation/toConversation.js";
import { withField } from "../records/row.js";
import { toolColumn } from "../records/toolFields.js";
import { Decimal, Float32, type Value } from "../records/values.js";
import { plural } from "../plural.js";

/**
 * Where the transforms (filter, rank, pairs) find a row's rewards: in the fields this run added (score, pairs), or
 * in the row's own record, as an earlier run wrote them (filter, pairs --scored: no model).
 */
export type RewardSource = {
    /** The row's rewards in its task's order (one; chosen, rejected; response_1, response_2; each response), or why it has none. */
    read(row: OutRow): number[] | string;
    /** A best-of-N row that keeps only the responses at `indexes` (in order): its responses and rewards cut to them. */
    part(row: OutRow, indexes: number[]): OutRow;
    /** The fields of the row's record its rewards are read from (none when this run computed them). */
    columns(row: OutRow): string[];
    /**
     * Each reward's exact decimal text where the record holds more digits than a double (a JSON or CSV decimal, a
     * Parquet DECIMAL or integer), in `read`'s order; undefined for a double. Bounds compare with it exactly.
     */
    exact?(row: OutRow): (string | undefined)[];
};

/** The names of a task's reward fields, in the order `read` gives them (a best-of-N row's: one list). */
export function rewardNames(kind: TaskKind, field: string): string[] {
    switch (kind) {
        case "single": return [field];
        case "chosenRejected": return [`${field}_chosen`, `${field}_rejected`];
        case "pair": return [`${field}_1`, `${field}_2`];
        case "bestOfN": return [`${field}s`];
        // eval's lists of answers: each side's rewards, a list
        case "candidates": return [`${field}_chosen`, `${field}_rejected`];
    }
}

/**
 * A best-of-N row's responses, cut to `indexes`, and every other list of the record parallel to them (as long, e.g.
 * `models`), but `skip` (the reward list, cut by the caller): a CSV cell holding a list as JSON text holds the part's list.
 */
function cutResponses(row: OutRow, indexes: number[], skip?: string): OutRow["input"] {
    const record = row.input.record!;
    const responses = responsesOf(record) as Value[];
    let input = row.input;
    for (const [name, value] of Object.entries(record)) {
        if (name === skip) continue;
        const list = name === "responses" ? responses : typeof value === "string" ? parsedList(value) : value;
        if (!Array.isArray(list) || list.length !== responses.length) continue;
        const kept = indexes.map((i) => list[i]!);
        input = withField(input, name, typeof value === "string" ? JSON.stringify(kept) : kept);
    }
    return input;
}

/** A CSV cell's JSON list, or undefined. */
function parsedList(text: string): Value[] | undefined {
    if (!text.startsWith("[")) return undefined;
    try {
        const parsed: unknown = JSON.parse(text);
        return Array.isArray(parsed) ? parsed as Value[] : undefined;
    } catch {
        return undefined;
    }
}

/** The rewards this run computed, in the fields it added. A row that could not be scored (error, skipped) has none. */
export function scoredRewards(field: string): RewardSource {
    return {
        read({ fields, task }) {
            if (fields["error"] != null) return "error";
            if (fields["skipped"] != null) return "skipped";
            if (task === undefined) return "error";
            const values = task.kind === "bestOfN" ? fields[`${field}s`] : rewardNames(task.kind, field).flatMap((name) => task.kind === "candidates" ? fields[name]! : [fields[name]!]);
            return Array.isArray(values) && values.every((r) => typeof r === "number") ? values as number[] : "error";
        },
        columns: () => [],
        part(row, indexes) {
            const rewards = row.fields[`${field}s`] as number[];
            const subset = indexes.map((i) => rewards[i]!);
            return { ...row, input: cutResponses(row, indexes), fields: { ...row.fields, [`${field}s`]: subset, best: subset.indexOf(Math.max(...subset)), response_indexes: indexes } };
        },
    };
}

/**
 * The rewards a row already holds in its record (a file `score` wrote, or any file with a reward column named by
 * --field): a number of any type (a double, a Parquet FLOAT, DECIMAL or integer, a CSV cell's text), a best-of-N row's
 * a list of them (or its JSON text). A row without one says why: an error row of `score` ("error"), a skipped one,
 * a field missing, empty or not a number.
 */
export function recordedRewards(field: string, note: (message: string) => void = () => undefined): RewardSource {
    // a scored file whose rows had a reward of their own: the model's is in nemoreward_reward (the own-name rule)
    const noted = new Set<string>();
    const columnOf = (record: Readonly<Record<string, unknown>>, name: string) => {
        const column = toolColumn(record, name);
        if (column !== name && !noted.has(column)) {
            noted.add(column);
            note(`reading the rewards from "${column}", where score wrote them; the input's own "${name}" is kept as it is`);
        }
        return column;
    };
    const listOf = (value: unknown): unknown => {
        const parsed = parsedJson(value, `${field}s`);
        if (typeof parsed !== "string") return parsed;
        try {
            return JSON.parse(parsed);
        } catch {
            return parsed;
        }
    };
    return {
        read({ input, task }) {
            const record = input.record;
            if (record === undefined) return input.problem ?? "unreadable";
            const kind = task?.kind ?? recordKind(record);
            const text = input.source.format === "csv" || input.source.format === "tsv";
            const values: number[] = [];
            for (const name of rewardNames(kind, field).map((n) => columnOf(record, n))) {
                const value = record[name];
                if (value === undefined) return `no "${name}" field`;
                if (value === null || value === "") return record[toolColumn(record, "error")] != null ? "error" : record[toolColumn(record, "skipped")] != null ? "skipped" : `"${name}" is empty`;
                const list = kind === "bestOfN" || kind === "candidates" ? listOf(value) : [value];
                // a CSV/TSV cell is text, a number's text is the number; in JSON and Parquet a reward is a number
                const numbers = Array.isArray(list) ? list.map((item) => rewardNumber(item, text && item === value)) : [];
                if (numbers.length === 0 || numbers.includes(undefined))
                    return kind === "bestOfN" || kind === "candidates" ? `"${name}" is not a list of numbers` : `"${name}" is not a number`;
                if (!numbers.every((n) => Number.isFinite(n)))
                    return kind === "bestOfN" || kind === "candidates" ? `"${name}" is not a list of finite numbers` : `"${name}" is not a finite number`;
                values.push(...numbers as number[]);
            }
            if (kind === "bestOfN") {
                let responses: number;
                try {
                    responses = responsesOf(record).length;
                } catch (error) {
                    return (error as Error).message;
                }
                if (responses !== values.length) return `"${field}s" holds ${plural(values.length, "reward")} for ${plural(responses, "response")}`;
            }
            return values;
        },
        exact({ input, task }) {
            const record = input.record ?? {};
            const kind = task?.kind ?? recordKind(record);
            if (kind === "bestOfN" || kind === "candidates") return [];
            const text = input.source.format === "csv" || input.source.format === "tsv";
            return rewardNames(kind, field).map((name) => {
                const value = record[toolColumn(record, name)];
                return typeof value === "bigint" || value instanceof Decimal ? value.toString() : text && typeof value === "string" ? value.trim() : undefined;
            });
        },
        columns({ input, task }) {
            const record = input.record ?? {};
            return rewardNames(task?.kind ?? recordKind(record), field).map((name) => toolColumn(record, name));
        },
        part(row, indexes) {
            const record = row.input.record!;
            const name = toolColumn(record, `${field}s`);
            const original = record[name]!;
            const list = listOf(original) as Value[];
            const subset = indexes.map((i) => list[i]!);
            let input = cutResponses(row, indexes, name);
            input = withField(input, name, typeof original === "string" ? JSON.stringify(subset) : subset);
            const bestName = toolColumn(record, "best");
            const was = record[bestName];
            if (typeof was === "number" || typeof was === "bigint" || typeof was === "string") {
                const numbers = subset.map((r) => rewardNumber(r, true)!);
                const best = numbers.indexOf(Math.max(...numbers));
                input = withField(input, bestName, typeof was === "string" ? String(best) : typeof was === "bigint" ? BigInt(best) : best);
            }
            return { ...row, input, fields: { ...row.fields, response_indexes: indexes } };
        },
    };
}

/**
 * A reward as a number: a double, a Parquet FLOAT, DECIMAL or integer, or, where the value is `text` (a CSV/TSV
 * cell), a number's decimal text. NaN and ±Infinity are numbers here: the caller says they are not finite.
 */
export function rewardNumber(value: unknown, text = false): number | undefined {
    return typeof value === "number" ? value
        : typeof value === "bigint" || value instanceof Decimal ? Number(value.toString())
        : value instanceof Float32 ? value.value
        : text && typeof value === "string" && /^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) ? Number(value)
        : undefined;
}

/**
 * -1, 0 or 1 as `exact` (a reward's decimal text) is below, at or above `bound` (its shortest decimal text, as typed):
 * only asked when both are the same double, so that `-1.0000000000000000000001` is below `--min-reward -1`.
 */
export function compareExact(exact: string, bound: number): number {
    const parse = (text: string) => {
        const match = /^([-+]?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
        if (match === null) return undefined;
        const [, sign, whole = "", fraction = "", exponent = "0"] = match;
        const digits = BigInt(`${whole}${fraction}` || "0");
        return { m: sign === "-" ? -digits : digits, e: Number(exponent) - fraction.length };
    };
    const [a, b] = [parse(exact), parse(String(bound))];
    if (a === undefined || b === undefined || Math.abs(a.e - b.e) > 5000) return 0;
    const e = Math.min(a.e, b.e);
    const [x, y] = [a.m * 10n ** BigInt(a.e - e), b.m * 10n ** BigInt(b.e - e)];
    return x < y ? -1 : x > y ? 1 : 0;
}
