import type { InputRow } from "../input/readJsonl.js";

/**
 * The input line with `fields` added at the end. The record's own text is kept byte for byte
 * (number formats, key order, escapes), so downstream tools see exactly what they gave.
 */
export function jsonlLine(row: InputRow, fields: Record<string, unknown>): string {
    const added = JSON.stringify(fields);
    if (row.record === undefined) return JSON.stringify({ line: row.line, ...fields });
    if (Object.keys(fields).some((key) => Object.hasOwn(row.record!, key)))
        return JSON.stringify({ ...row.record, ...fields });
    const text = row.text.trimEnd();
    const body = text.slice(0, -1).trimEnd();
    const empty = body.endsWith("{");
    return `${body}${empty ? "" : ","}${added.slice(1)}`;
}
