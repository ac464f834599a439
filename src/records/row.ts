import type { SchemaElement } from "hyparquet";
import type { InputFormat } from "../formats.js";
import { fieldSpans, spliceJson } from "./json.js";
import { quoteField } from "./csvText.js";
import { cellText, jsonText, oneLine, type Fields, type Value } from "./values.js";

/** The header of a CSV/TSV file, kept so that output can repeat it byte for byte. */
export type DelimitedHeader = { names: string[]; text: string; delimiter: string; eol: string };

/** One top-level column of a Parquet file: its schema elements, depth first (one, or a group and its children). */
export type ParquetColumn = { name: string; elements: SchemaElement[] };

/** One input: a file, or standard input, and what its rows share. */
export type Source = {
    /** As messages name it: the path, or `<stdin>`. */
    name: string;
    format: InputFormat;
    /** CSV/TSV: the header, once read (also of a file with no row under it). */
    header?: DelimitedHeader;
    /** Parquet: the file's columns, so that Parquet output keeps their types (also of a file with no rows). */
    columns?: readonly ParquetColumn[];
};

/** One input row: where it came from, its own text, and its typed record, or why it has none. */
export type InputRow = {
    source: Source;
    /** 1-based line where the row starts (a JSON array item's first line, a CSV record's first line, a Parquet row's number). */
    line: number;
    /** JSON and CSV/TSV: the row's own text, without its line ending. Parquet: empty (the values are the row). */
    text: string;
    record?: Fields;
    /** Why the row holds no record (not JSON, not UTF-8, too long, ragged, ...). */
    problem?: string;
    /**
     * JSON: the top-level keys the row's text gives more than once. The record holds each one's last value (as
     * JSON.parse reads it); JSON and JSONL output keep the text, with both.
     */
    repeated?: string[];
    /** The JSON text of each top-level field, found once when first needed. */
    spans?: Map<string, string>;
};

/** Where a row is, for messages: `file:line`. */
export function where(row: InputRow): string {
    return `${row.source.name}:${row.line}`;
}

/** Whether the row's text is its record's JSON (JSONL and JSON array rows; a row made by the tool has no text). */
export function isJsonRow(row: InputRow): boolean {
    return (row.source.format === "jsonl" || row.source.format === "json") && row.text !== "";
}

/**
 * A field's value as JSON text, exactly as the input wrote it: a JSON row's own text for the field (on one line: its
 * number formats, escapes and nesting kept), else the typed value's JSON text.
 */
export function fieldJson(row: InputRow, name: string, lenient = false): string {
    if (isJsonRow(row) && row.record !== undefined) {
        row.spans ??= new Map(fieldSpans(row.text).map(({ key, start, end }) => [key, oneLine(row.text.slice(start, end))]));
        const text = row.spans.get(name);
        if (text !== undefined) return text;
    }
    return jsonText(row.record?.[name] ?? null, lenient);
}

/** A field's value as a CSV/TSV cell: a string as it is, anything else as its JSON text as the input wrote it. */
export function fieldCell(row: InputRow, name: string): string {
    const value: Value | undefined = row.record?.[name];
    if (value === undefined || value === null || typeof value === "string" || !isJsonRow(row)) return cellText(value ?? null);
    return fieldJson(row, name);
}

/**
 * What a row is, for checking that a resumed run reads the input it was started on: its text, under its CSV/TSV
 * header (a file whose columns changed order is other input), or its record's JSON text (Parquet).
 */
export function rowIdentity(row: InputRow): string {
    if (row.source.format === "parquet") return row.record === undefined ? `${row.line}\n${row.problem ?? ""}` : jsonText(row.record, true);
    return row.source.header === undefined ? row.text : `${row.source.header.text}\n${row.text}`;
}

/**
 * The row with one field of its record set to another value, its text made to match, every other byte kept: a
 * best-of-N row that keeps only some of its responses.
 */
export function withField(row: InputRow, name: string, value: Value): InputRow {
    const record = { ...row.record, [name]: value };
    const header = row.source.header;
    const text = isJsonRow(row) ? spliceJson(row.text, { [name]: jsonText(value) }, true)
        : header !== undefined ? header.names.map((column) => quoteField(cellText(record[column] ?? null), header.delimiter)).join(header.delimiter)
        : "";
    return { ...row, record, text, spans: undefined };
}
