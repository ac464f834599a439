import { Decimal, Float32, jsonText, JsonText, MapValue, type Value, isFields } from "../records/values.js";
import { parseExact } from "../records/json.js";
import { where } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";

/**
 * The key of the group a row belongs to: `--group-by FIELD` (the field's value, compared as a value: see `valueKey`,
 * so that a value nested any deep is a key like any other), else its prompt (every message but the last). Undefined
 * for a row that shows no key (no record, no conversation, no field FIELD): it stays in the group it is in, and the
 * transform says what becomes of it (`missingGroupField`).
 */
export function groupKey(groupBy: string | undefined): (row: OutRow) => string | undefined {
    return (row) => {
        if (groupBy !== undefined) {
            const record = row.input.record;
            return record === undefined || !Object.hasOwn(record, groupBy) ? undefined : valueKey(record[groupBy]!);
        }
        const conversation = row.task?.conversations[0];
        return conversation === undefined ? undefined : promptKey(conversation);
    };
}

/** The key of a conversation's prompt: every message before the final response, the system message included. */
export function promptKey(conversation: readonly { role: string; content: string }[]): string {
    return JSON.stringify(conversation.slice(0, -1).map(({ role, content }) => [role, content]));
}

/** Whether a readable row lacks the --group-by field: it cannot be put in any group, and is not judged. */
export function missingGroupField(groupBy: string | undefined, row: OutRow): boolean {
    const record = row.input.record;
    return groupBy !== undefined && record !== undefined && !Object.hasOwn(record, groupBy);
}

/**
 * A value as a group key: equal values, equal keys, however the input wrote them (whitespace, escapes, `1`, `1.0`
 * and `1e0`: numbers of any type are equal by value, exactly, big ones included). An object's keys keep their order;
 * strings stay apart from numbers (`"1"` is not `1`).
 */
export function valueKey(root: Value): string {
    // iterative: a value nested any deep is a key like any other
    const out: string[] = [];
    const stack: ([0, Value] | [1, string])[] = [[0, root]];
    const parts = (open: string, close: string, items: [string, Value][]) => {
        out.push(open);
        stack.push([1, close]);
        for (let i = items.length - 1; i >= 0; i--) {
            stack.push([0, items[i]![1]]);
            stack.push([1, `${i > 0 ? "," : ""}${items[i]![0]}`]);
        }
    };
    while (stack.length > 0) {
        const [tag, item] = stack.pop()!;
        if (tag === 1) {
            out.push(item);
            continue;
        }
        const value = item;
        if (typeof value === "number" || typeof value === "bigint" || value instanceof Decimal || value instanceof Float32)
            out.push(numberKey(value instanceof Float32 ? value.toString() : String(value.toString())));
        else if (Array.isArray(value)) parts("[", "]", value.map((v) => ["", v]));
        else if (isFields(value)) parts("{", "}", Object.entries(value).map(([k, v]) => [`${JSON.stringify(k)}:`, v]));
        else if (value instanceof MapValue) parts("map{", "}", value.entries.map(([k, v]) => [`${valueKey(k)}:`, v]));
        else if (value instanceof JsonText) {
            // a Parquet JSON value: by the value its text writes (whitespace and escapes aside), as a JSON row's
            try {
                stack.push([0, parseExact(value.text)]);
            } catch {
                out.push(JSON.stringify(value.text));
            }
        } else out.push(jsonText(value, true));
    }
    return out.join("");
}

/** A number's text as one form per value: `-1.50`, `-15e-1` and `-1.5` are all `-15e-1`; zero of either sign is `0`. */
function numberKey(text: string): string {
    const match = /^(-?)(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?$/.exec(text);
    if (match === null) return text; // NaN, Infinity
    const [, sign, whole = "", fraction = "", exponent = "0"] = match;
    let digits = (whole + fraction).replace(/^0+/, "");
    if (digits === "") return "0";
    let scale = BigInt(exponent) - BigInt(fraction.length);
    const trailing = digits.length - digits.replace(/0+$/, "").length;
    digits = digits.slice(0, digits.length - trailing);
    scale += BigInt(trailing);
    return `${sign}${digits}e${scale}`;
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
