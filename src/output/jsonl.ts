import { hasJsonText, type InputRow } from "../input/inputRow.js";

/**
 * The row as one JSON line with `fields` added at the end. A JSON record's own text is kept byte for byte
 * (number formats, key order, escapes), so downstream tools see exactly what they gave: a field the record
 * already has gets its new value in place, and a record spread over several lines loses only its line breaks
 * and the indentation around them.
 */
export function jsonlLine(row: InputRow, fields: Record<string, unknown>): string {
    if (row.record === undefined) return JSON.stringify({ line: row.line, ...fields });
    if (!hasJsonText(row.format)) return JSON.stringify({ ...row.record, ...fields });
    let text = oneLine(row.text.trimEnd());
    const added = { ...fields };
    if (Object.keys(fields).some((key) => Object.hasOwn(row.record!, key))) {
        // from the last value back, so that the spans before it stay where they were
        for (const { key, start, end } of topLevelValues(text).reverse()) {
            if (!Object.hasOwn(fields, key)) continue;
            text = `${text.slice(0, start)}${JSON.stringify(fields[key] ?? null)}${text.slice(end)}`;
            delete added[key];
        }
    }
    const body = text.slice(0, -1).trimEnd();
    const rest = JSON.stringify(added).slice(1);
    return `${body}${body.endsWith("{") || rest === "}" ? "" : ","}${rest}`;
}

/**
 * JSON text on one line. JSON strings cannot hold a raw line break, so every CR or LF, with the spaces and tabs
 * around it, lies between tokens and can go.
 */
export function oneLine(text: string): string {
    return text.replace(/[ \t]*[\r\n][ \t\r\n]*/g, "");
}

/**
 * Where the value of each top-level key of a JSON object's text starts and ends. A scan, not a parse, so that
 * a record nested any deep costs no stack; the text must be a valid JSON object (it was parsed before).
 */
export function topLevelValues(text: string): { key: string; start: number; end: number }[] {
    const values: { key: string; start: number; end: number }[] = [];
    let depth = 0, inString = false, escaped = false, inValue = false;
    let key = "", keyStart = 0, start = -1, end = -1;
    for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (inString) {
            if (escaped) escaped = false;
            else if (c === "\\") escaped = true;
            else if (c === '"') {
                inString = false;
                if (!inValue) key = JSON.parse(text.slice(keyStart, i + 1)) as string;
            }
            if (inValue) end = i + 1;
            continue;
        }
        if (c === " " || c === "\t" || c === "\n" || c === "\r") continue;
        if (depth === 1 && (c === "," || c === "}")) {
            if (inValue) values.push({ key, start, end });
            inValue = false;
            if (c === "}") depth = 0;
            continue;
        }
        if (depth === 1 && c === ":") {
            inValue = true;
            start = -1;
            continue;
        }
        if (inValue && start === -1) start = i;
        if (c === '"') {
            inString = true;
            keyStart = i;
        } else if (c === "{" || c === "[") depth++;
        else if (c === "}" || c === "]") depth--;
        if (inValue) end = i + 1;
    }
    return values;
}
