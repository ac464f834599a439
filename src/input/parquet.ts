import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects, parquetSchema, type AsyncBuffer, type FileMetaData, type SchemaTree } from "hyparquet";
import { deserializeTCompactProtocol } from "hyparquet/src/thrift.js";
import { compressors } from "hyparquet-compressors";
import { physicalMetadata, rawName, readValue, setField } from "../records/parquetValues.js";
import type { InputRow, ParquetColumn, Source } from "../records/row.js";
import { ValueError, type Fields } from "../records/values.js";
import { batchBytes } from "../memory.js";
import { anonymousFile, writeTemporary } from "../encode/spill.js";
import { closeSync, readSync } from "node:fs";


/** A Parquet file that cannot be read as one, with the reason in words that name no library. */
export class UnreadableParquet extends Error {}

/** A Parquet file's footer: its schema, row groups and row count, read without reading any rows. */
export async function parquetFooter(path: string | AsyncBuffer): Promise<FileMetaData> {
    try {
        const file = typeof path === "string" ? await asyncBufferFromFile(path) : path;
        const metadata = await parquetMetadataAsync(file);
        await keepByteOrderMarks(metadata, file);
        return metadata;
    } catch (error) {
        const message = (error as Error).message;
        const why = /footer|magic|PAR1|outside the bounds|metadata length/i.test(message)
            ? `its footer is missing or damaged, as in a file cut short (${message})` : message;
        throw new UnreadableParquet(`not a readable Parquet file: ${why}`, { cause: error });
    }
}

/** The footer of a Parquet file's first `end` bytes (a resumable output's, up to its last recorded row group). */
export async function parquetFooterAt(path: string, end: number): Promise<FileMetaData> {
    const file = await asyncBufferFromFile(path);
    return parquetFooter({ byteLength: end, slice: (start: number, stop: number = end) => file.slice(start, stop) });
}

/**
 * Names as the file writes them: hyparquet decodes them as text, which drops a leading U+FEFF (a column "\ufeffk"
 * beside a column "k" would be lost). Where the footer holds those bytes at all, its names (schema and each column
 * chunk's path) are decoded again, exactly.
 */
async function keepByteOrderMarks(metadata: FileMetaData, file: AsyncBuffer): Promise<void> {
    const tail = new DataView(await file.slice(file.byteLength - 8));
    const length = tail.getUint32(0, true);
    const footer = new Uint8Array(await file.slice(file.byteLength - 8 - length, file.byteLength - 8));
    if (Buffer.from(footer.buffer, footer.byteOffset, footer.byteLength).indexOf(byteOrderMark) === -1) return;
    type Raw = { field_2: { field_4?: Uint8Array }[]; field_4: { field_1: { field_3?: { field_3: Uint8Array[] } }[] }[] };
    const raw = deserializeTCompactProtocol({ view: new DataView(footer.buffer, footer.byteOffset, footer.byteLength), offset: 0 }) as unknown as Raw;
    const exact = new TextDecoder("utf-8", { ignoreBOM: true });
    for (const [i, element] of raw.field_2.entries()) if (element.field_4 !== undefined) metadata.schema[i]!.name = exact.decode(element.field_4);
    for (const [g, group] of raw.field_4.entries()) {
        for (const [c, column] of group.field_1.entries()) {
            const meta = metadata.row_groups[g]!.columns[c]!.meta_data;
            if (meta !== undefined && column.field_3 !== undefined) meta.path_in_schema = column.field_3.field_3.map((name) => exact.decode(name));
        }
    }
}

const byteOrderMark = Buffer.from([0xef, 0xbb, 0xbf]);

/** A file's top-level columns, each with its schema elements depth first. */
export function columnsOf(metadata: FileMetaData): ParquetColumn[] {
    return parquetSchema(metadata).children.map((tree) => ({ name: tree.element.name, elements: flatten(tree) }));
}

function flatten(tree: SchemaTree): SchemaTree["element"][] {
    return [tree.element, ...tree.children.flatMap(flatten)];
}

/**
 * Streams a Parquet file's rows, a row group at a time and a large group in slices (memory.ts), so that memory holds
 * one slice, never the file (hyparquet; zstd, gzip, brotli and lz4 through hyparquet-compressors). Values are typed
 * exactly (parquetValues.ts). A value that is not what its column says (text that is not UTF-8) makes its row an
 * error row; a file that cannot be read is one error row, and a damaged row group one error row, the groups before
 * and after it read as usual.
 */
export async function* readParquet(path: string | AsyncBuffer, source: Source): AsyncIterable<InputRow> {
    let metadata: FileMetaData;
    let file: AsyncBuffer;
    try {
        file = typeof path === "string" ? await asyncBufferFromFile(path) : path;
        metadata = await parquetFooter(file);
    } catch (error) {
        yield { source, line: 1, text: "", problem: (error as Error).message };
        return;
    }
    source.columns = columnsOf(metadata);
    const trees = parquetSchema(metadata).children;
    const physical = physicalMetadata(metadata);
    // rows of a row group read at once take about this many bytes (uncompressed): memory holds a slice, never a huge group
    const sliceBytes = batchBytes();
    let rowStart = 0;
    for (const [index, group] of metadata.row_groups.entries()) {
        const rows = Number(group.num_rows);
        const rowEnd = rowStart + rows;
        const perSlice = Math.max(1, Math.floor(sliceBytes / Math.max(1, Number(group.total_byte_size) / Math.max(rows, 1))));
        for (let start = rowStart; start < rowEnd; start += perSlice) {
            const end = Math.min(rowEnd, start + perSlice);
            let records: Record<string, unknown>[];
            try {
                records = await parquetReadObjects({ file, metadata: physical, rowStart: start, rowEnd: end, compressors, utf8: false, useOffsetIndex: true });
            } catch (error) {
                yield { source, line: start + 1, text: "", problem: `row group ${index + 1} of ${metadata.row_groups.length} (rows ${rowStart + 1} to ${rowEnd}) ` +
                    `cannot be read, the file is damaged there: ${(error as Error).message}` };
                break;
            }
            for (let i = 0; i < records.length; i++) {
                const raw = records[i]!;
                records[i] = undefined!; // read: only its typed row is kept, as long as the run needs it
                yield typedRow(source, start + i + 1, trees, raw);
            }
        }
        rowStart = rowEnd;
    }
}

/**
 * Parquet from a stream (standard input, a pipe): its footer, at the end, is needed first, so its bytes go to an
 * anonymous temporary file (spill.ts), then are read from there as a file's are.
 */
export async function* readParquetStream(bytes: AsyncIterable<Buffer>, source: Source): AsyncIterable<InputRow> {
    const fd = anonymousFile();
    try {
        let size = 0;
        for await (const chunk of bytes) {
            writeTemporary(fd, chunk, size, `Parquet read from ${source.name}`);
            size += chunk.length;
        }
        const file: AsyncBuffer = {
            byteLength: size,
            slice(start, end = size) {
                const slice = Buffer.alloc(Math.max(0, end - start));
                for (let done = 0; done < slice.length;) {
                    const read = readSync(fd, slice, done, slice.length - done, start + done);
                    if (read === 0) break;
                    done += read;
                }
                return slice.buffer.slice(slice.byteOffset, slice.byteOffset + slice.byteLength) as ArrayBuffer;
            },
        };
        yield* readParquet(file, source);
    } finally {
        closeSync(fd);
    }
}

function typedRow(source: Source, line: number, trees: SchemaTree[], raw: Record<string, unknown>): InputRow {
    const record: Fields = {};
    for (const tree of trees) {
        const name = tree.element.name;
        try {
            setField(record, name, readValue(tree, raw[rawName(name)]));
        } catch (error) {
            if (!(error instanceof ValueError)) throw error;
            return { source, line, text: "", problem: `column ${name}: ${error.message}` };
        }
    }
    return { source, line, text: "", record };
}
