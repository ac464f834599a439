import { fieldSpans, spliceJson } from "../records/json.js";
import { isJsonRow, where, type InputRow } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import { ownNames, recordFits, renameFields, renameReporter } from "../records/toolFields.js";
import { isValueProblem, jsonText, ValueError, type Value } from "../records/values.js";
import { asErrorRow, type Encoder, type EncoderOptions } from "./encoder.js";

/** JSONL (a line per row) or a JSON array (a row per item). */
export function jsonEncoder(format: "jsonl" | "json", options: EncoderOptions): Encoder {
    const line = jsonLines(options);
    if (format === "jsonl") return { row: (out) => `${line(out)}\n`, end: () => "" };
    let count = 0;
    return {
        row: (out) => `${count++ === 0 ? "[\n" : ",\n"}${line(out)}`,
        end: () => (count === 0 ? "[]\n" : "\n]\n"),
    };
}

/**
 * A row as one JSON object on one line: the record as the input wrote it, then the tool's fields under their own
 * names beside the record's (toolFields.ts). A JSON record's own text is kept byte for byte (number formats, key
 * order, escapes), a field an earlier run of the tool added getting its new value in place; a record of another
 * format is written from its typed values. A row with no record is `{"line": N, ...}`.
 */
function jsonLines({ layoutOf, warn, onError }: EncoderOptions): (out: OutRow) => string {
    const report = renameReporter(warn);
    return (out) => {
        const { input } = out;
        const layout = layoutOf(input);
        const record = input.record;
        if (record === undefined) return objectText({ line: input.line, ...out.fields });
        const names = input.repeated === undefined ? Object.keys(record) : fieldSpans(input.text).map(({ key }) => key);
        const own = ownNames(names, layout, { fits: recordFits(record, layout[0]?.name, false) });
        report(own, where(input));
        try {
            return recordLine(input, renameFields(out.fields, own));
        } catch (error) {
            if (!isValueProblem(error)) throw error;
            onError(input, error.message);
            return recordLine(input, renameFields(asErrorRow(out, layout, error.message).fields, own), true);
        }
    };
}

/** The record's line with `fields` set on it; `lenient`: a value JSON cannot hold is written null (its error is in `fields`). */
function recordLine(input: InputRow, fields: Record<string, Value>, lenient = false): string {
    if (isJsonRow(input)) return spliced(input, fields);
    const record = input.record!;
    const own = Object.keys(record).filter((name) => !Object.hasOwn(fields, name));
    const parts = own.map((name) => `${JSON.stringify(name)}:${valueText(record[name]!, name, lenient)}`);
    for (const [name, value] of Object.entries(fields)) parts.push(`${JSON.stringify(name)}:${valueText(value, name, lenient)}`);
    return `{${parts.join(",")}}`;
}

function valueText(value: Value, name: string, lenient: boolean): string {
    try {
        return jsonText(value);
    } catch (error) {
        if (!isValueProblem(error)) throw error;
        if (lenient) return "null";
        throw new ValueError(`column ${name}: ${error.message}`);
    }
}

/** A JSON record's own text with `fields` set on it, every other byte kept (records/json.ts). */
function spliced(input: InputRow, fields: Record<string, Value>): string {
    const texts = Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, jsonText(value)]));
    return spliceJson(input.text, texts, Object.keys(fields).some((key) => Object.hasOwn(input.record!, key)));
}

/** An object's fields as one line of JSON, each value exactly (`jsonText`). */
export function objectText(fields: Record<string, Value>): string {
    return `{${Object.entries(fields).map(([name, value]) => `${JSON.stringify(name)}:${jsonText(value)}`).join(",")}}`;
}
