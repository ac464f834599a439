import type { InputRow } from "../input/inputRow.js";

/**
 * The row as one JSON line with `fields` added at the end. A JSON record's own text is kept byte for byte
 * (number formats, key order, escapes), so downstream tools see exactly what they gave.
 */
export function jsonlLine(row: InputRow, fields: Record<string, unknown>): string {
    if (row.record === undefined) return JSON.stringify({ line: row.line, ...fields });
    const keepText = (row.format === "jsonl" || row.format === "json") && !row.text.includes("\n") &&
        !Object.keys(fields).some((key) => Object.hasOwn(row.record!, key));
    if (!keepText) return JSON.stringify({ ...row.record, ...fields });
    const body = row.text.trimEnd().slice(0, -1).trimEnd();
    return `${body}${body.endsWith("{") ? "" : ","}${JSON.stringify(fields).slice(1)}`;
}
