import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type FileMetaData, type SchemaTree } from "hyparquet";
import { compressors } from "hyparquet-compressors";
import type { InputRow, ParquetColumn } from "./inputRow.js";

/** A Parquet file's footer: its schema, row groups and row count, read without reading any rows. */
export async function parquetMetadata(path: string): Promise<FileMetaData> {
    return parquetMetadataAsync(await asyncBufferFromFile(path));
}

/**
 * Streams a Parquet file's rows one row group at a time (hyparquet; zstd, gzip, brotli and lz4 through
 * hyparquet-compressors), so memory holds one row group, never the file. Values keep their Parquet types: INT64 as
 * BigInt, bytes as Uint8Array, dates as Date, micro- and nanosecond timestamps as their exact BigInt count (a Date
 * would drop digits), lists and structs as arrays and objects. Each row's text is its record as JSON (for JSONL
 * output and the resume hash).
 */
export async function* readParquet(path: string, source: string): AsyncIterable<InputRow> {
    const file = await asyncBufferFromFile(path);
    const metadata = await parquetMetadataAsync(file);
    const columns = parquetSchema(metadata).children.map((tree): ParquetColumn => ({ name: tree.element.name, elements: flatten(tree) }));
    let rowStart = 0;
    for (const group of metadata.row_groups) {
        const rowEnd = rowStart + Number(group.num_rows);
        const records = await parquetReadObjects({
            file, metadata, rowStart, rowEnd, compressors, utf8: false,
            parsers: { timestampFromMicroseconds: (micros) => micros, timestampFromNanoseconds: (nanos) => nanos },
        });
        for (const [i, record] of records.entries()) {
            // a null of a nested column comes back undefined: null, as the same record in JSONL
            for (const key of Object.keys(record)) record[key] ??= null;
            yield { source, line: rowStart + i + 1, format: "parquet", text: jsonText(record), record, columns };
        }
        rowStart = rowEnd;
    }
}

function flatten(tree: SchemaTree): SchemaTree["element"][] {
    return [tree.element, ...tree.children.flatMap(flatten)];
}

/**
 * A Parquet value as JSON text: BigInt as its exact digits, bytes as base64, dates as ISO strings, a float that JSON
 * cannot hold (NaN, ±Infinity) as null.
 */
export function jsonText(value: unknown): string {
    if (typeof value === "bigint") return value.toString();
    if (value instanceof Uint8Array) return JSON.stringify(Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString("base64"));
    if (value instanceof Date) return JSON.stringify(value.toISOString());
    if (Array.isArray(value)) return `[${value.map(jsonText).join(",")}]`;
    if (value !== null && typeof value === "object")
        return `{${Object.entries(value).map(([key, v]) => `${JSON.stringify(key)}:${jsonText(v === undefined ? null : v)}`).join(",")}}`;
    return JSON.stringify(value) ?? "null";
}
