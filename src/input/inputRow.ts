import type { SchemaElement } from "hyparquet";

/** The input file formats nemoreward reads. */
export type InputFormat = "jsonl" | "json" | "csv" | "tsv" | "parquet";

/** Formats whose row text is the record's JSON (Parquet rows are given JSON text when read). */
export function hasJsonText(format: InputFormat): boolean {
    return format === "jsonl" || format === "json" || format === "parquet";
}

/** One top-level column of a Parquet file: its schema elements, depth first (one, or a group and its children). */
export type ParquetColumn = { name: string; elements: SchemaElement[] };

/** The header of a delimited file, kept so that output can repeat it byte for byte. */
export type DelimitedHeader = { names: string[]; text: string; delimiter: string; eol: string; /** the file it heads, on line 1 */ source?: string };

/** One input row: where it came from, its text as read, and the record it holds (or why it holds none). */
export type InputRow = {
    source: string;
    /** 1-based line where the row starts (a JSON array item's first line, a CSV record's first line). */
    line: number;
    format: InputFormat;
    /** The row's own text, without its line ending: a JSONL line, a JSON array item, a CSV record. */
    text: string;
    record?: Record<string, unknown>;
    parseError?: string;
    /** For CSV/TSV rows: the file's header. */
    header?: DelimitedHeader;
    /** For Parquet rows: the file's columns, so that Parquet output keeps their types. */
    columns?: readonly ParquetColumn[];
};

/** The error of a row whose bytes are not UTF-8: it is reported, never decoded with replacement characters and scored. */
export const notUtf8 = "not valid UTF-8 text";

/** Parses one JSON object; anything else is a row error, not a failure of the run. */
export function parseRecord(text: string): Pick<InputRow, "record" | "parseError"> {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        return { parseError: `not valid JSON (${(error as Error).message})` };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value))
        return { parseError: "not a JSON object" };
    return { record: value as Record<string, unknown> };
}
