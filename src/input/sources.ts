import { closeSync, constants, createReadStream, openSync, readdirSync, readSync, realpathSync, statSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { UsageError } from "../errors.js";
import { formatOfName, formats, gzipMagic, namesOf, parquetMagic, type InputFormat } from "../formats.js";
import { where, type InputRow, type Source } from "../records/row.js";
import { byteOrderMark, isBlankByte } from "./blank.js";
import { countDelimited, readDelimited } from "./delimited.js";
import { BrokenGzip, inputBytes } from "./gzip.js";
import { readJsonArray } from "./jsonArray.js";
import { readJsonl } from "./jsonl.js";
import { refuseDelimitedStdin } from "./refuseDelimitedStdin.js";

/** One input of a run, found and typed before anything runs: a file, a pipe, or `-` (standard input). */
export type InputSpec = { path: string; format: InputFormat };

/** The name a source is reported under. */
export function sourceName(path: string): string {
    return path === "-" ? "<stdin>" : path;
}

/**
 * The inputs a run reads, checked: every folder replaced by the data files directly in it, in name order (the Hugging
 * Face layout, `train-00000-of-00004.parquet`, ...), each file's format known. Usage errors for what cannot be read.
 */
export function findInputs(paths: readonly string[], override: InputFormat | undefined): InputSpec[] {
    return paths.flatMap((path) => (path !== "-" && kind(path) === "folder" ? folderFiles(path) : [path])).map((path) => {
        if (path !== "-") {
            const found = kind(path);
            if (found === undefined) throw new UsageError(`input file not found: ${path}`);
            if (found === "folder" || found === "other") throw new UsageError(`input is not a file or a pipe: ${path}`);
        }
        return { path, format: formatOf(path, override) };
    });
}

function folderFiles(path: string): string[] {
    const files = readdirSync(path, { withFileTypes: true })
        .filter((entry) => entry.isFile() && formatOfName(entry.name, "input") !== undefined)
        .map((entry) => entry.name).sort().map((name) => join(path, name));
    if (files.length === 0) throw new UsageError(`${path} holds no ${namesOf("input")} file`);
    return files;
}

/**
 * The format of one input: `--input-format`, else Parquet when the file starts with its magic bytes, else its
 * extension (under any `.gz`); standard input and unnamed pipes are JSONL, or Parquet when their first bytes say so
 * (`readRows`, which alone reads them).
 */
export function formatOf(path: string, override: InputFormat | undefined): InputFormat {
    const stream = path === "-" || kind(path) === "stream";
    if (override !== undefined) return override;
    if (path === "-") return "jsonl";
    if (startsWith(path, parquetMagic)) return "parquet";
    // a descriptor (`/dev/fd/5` with `5< data.csv`) is named by the file it leads to
    const format = (formatOfName(path, "input") ?? formatOfName(realpathSync(path), "input")) as InputFormat | undefined;
    if (format !== undefined) return format;
    if (stream) return "jsonl"; // `<(zcat f.gz)` is /dev/fd/63
    throw new UsageError(`cannot tell the format of ${path}: name it ${namesOf("input")}, or give --input-format`);
}

/** What a path is: a file, a folder, a stream (a pipe, a character device such as /dev/stdin), something else, or nothing. */
function kind(path: string): "file" | "folder" | "stream" | "other" | undefined {
    const stat = statSync(path, { throwIfNoEntry: false });
    if (stat === undefined) return undefined;
    return stat.isFile() ? "file" : stat.isDirectory() ? "folder" : stat.isFIFO() || stat.isCharacterDevice() ? "stream" : "other";
}

function startsWith(path: string, magic: Buffer): boolean {
    // only regular files: opening a FIFO would wait for its writer, and its bytes are not ours to take
    if (kind(path) !== "file") return false;
    const fd = openSync(path, "r");
    try {
        const start = Buffer.alloc(magic.length);
        return readSync(fd, start, 0, magic.length, 0) === magic.length && start.equals(magic);
    } finally {
        closeSync(fd);
    }
}

/** How the rows of a run's inputs are read. */
export type ReadOptions = {
    stdin: Readable;
    maxRecordBytes: number;
    /** Aborting it stops reading a pipe at once. */
    signal?: AbortSignal;
    /** Told about damage that loses no row (trailing garbage after gzip data). */
    warn: (message: string) => void;
    /** Given each source as it is opened; its header or columns are set on it as soon as they are read. */
    onSource?: (source: Source) => void;
    /** Whether `--input-format` was given: CSV on standard input without it is refused (refuseDelimitedStdin). */
    formatGiven: boolean;
};

/** Streams the rows of every input in turn, gunzipping those that start with the gzip magic bytes. */
export async function* readRows(inputs: readonly InputSpec[], options: ReadOptions): AsyncIterable<InputRow> {
    for (const { path, format } of inputs) {
        const source: Source = { name: sourceName(path), format };
        options.onSource?.(source);
        if (format === "parquet" && kind(path) === "file") {
            const { readParquet } = await import("./parquet.js");
            yield* readParquet(path, source);
            continue;
        }
        let bytes = inputBytes(path === "-" ? options.stdin : openInput(path, options.signal), (message) => options.warn(`${source.name}: ${message}`));
        let last: InputRow | undefined;
        try {
            // a stream (standard input, a pipe) is Parquet when its first bytes (gunzipped) say so, as a file is
            if (format === "parquet" || (format === "jsonl" && !options.formatGiven && kind(path) !== "file")) {
                const { head, all } = await peek(bytes, parquetMagic.length);
                bytes = all;
                if (format === "parquet" || head.equals(parquetMagic)) {
                    source.format = "parquet";
                    const { readParquetStream } = await import("./parquet.js");
                    yield* readParquetStream(bytes, source);
                    continue;
                }
            }
            const rows = format === "jsonl" ? readJsonl(bytes, source, options.maxRecordBytes)
                : format === "json" ? readJsonArray(bytes, source, options.maxRecordBytes)
                : readDelimited(bytes, source, formats[format].delimiter!, options.maxRecordBytes);
            const told = new Set<string>();
            for await (const row of rows) {
                if (last === undefined && path === "-" && !options.formatGiven) refuseDelimitedStdin(row);
                for (const key of row.repeated ?? []) {
                    if (told.has(key)) continue;
                    told.add(key);
                    options.warn(`${where(row)}: the key "${key}" is given more than once: its last value is the one read, and the only one CSV, TSV and Parquet output hold; JSON and JSONL output keep them all`);
                }
                last = row;
                yield row;
            }
        } catch (error) {
            if (!(error instanceof BrokenGzip)) throw error;
            // every row before the break has been read; what follows it cannot be, and becomes one error row
            const line = last === undefined ? 1 : last.line + 1 + (last.text.match(/\n/g)?.length ?? 0);
            yield { source, line, text: "", problem: error.message };
        }
    }
}

/** The first `length` bytes of a stream, and all its bytes (those included) to read on. */
async function peek(bytes: AsyncIterable<Buffer>, length: number): Promise<{ head: Buffer; all: AsyncIterable<Buffer> }> {
    const chunks = bytes[Symbol.asyncIterator]();
    const held: Buffer[] = [];
    let size = 0;
    for (let next = size < length ? await chunks.next() : undefined; next !== undefined && !next.done; next = size < length ? await chunks.next() : undefined) {
        held.push(next.value);
        size += next.value.length;
    }
    async function* all(): AsyncIterable<Buffer> {
        try {
            yield* held.splice(0);
            for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
        } finally {
            await chunks.return?.();
        }
    }
    return { head: Buffer.concat(held).subarray(0, length), all: all() };
}

/**
 * A file, or a named pipe read through the event loop: a pipe read in the thread pool, as file streams read, would
 * keep the process alive after an interrupt until the pipe's writer writes or closes. Opened non-blocking, a pipe
 * with no writer yet waits for one in the event loop too.
 */
function openInput(path: string, signal: AbortSignal | undefined): Readable {
    if (kind(path) !== "stream" || !statSync(path).isFIFO()) return createReadStream(path);
    const pipe = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    return signal === undefined ? pipe : addAbortSignal(signal, pipe);
}

/**
 * Rows to expect, for progress and ETA: the lines of plain JSONL files that are not blank (by the readers' own rule,
 * blank.ts), the records of plain CSV/TSV files (by the reader's own scan: a quoted cell may span lines), the row
 * counts in Parquet footers. Undefined when any input cannot be counted without parsing it (standard input and pipes,
 * which can be read only once; gzip; JSON; a damaged Parquet footer).
 */
export async function countRows(inputs: readonly InputSpec[]): Promise<number | undefined> {
    let total = 0;
    for (const { path, format } of inputs) {
        if (format === "parquet") {
            const { parquetFooter } = await import("./parquet.js");
            try {
                total += Number((await parquetFooter(path)).num_rows);
            } catch {
                return undefined;
            }
            continue;
        }
        if (path === "-" || kind(path) !== "file" || startsWith(path, gzipMagic)) return undefined;
        if (format === "csv" || format === "tsv") {
            total += await countDelimited(createReadStream(path), formats[format].delimiter!);
            continue;
        }
        if (format !== "jsonl") return undefined;
        let first = true, content = false, start = 0;
        for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
            start = first && chunk.subarray(0, 3).equals(byteOrderMark) ? 3 : 0;
            first = false;
            for (let i = start; i < chunk.length; i++) {
                const byte = chunk[i]!;
                if (byte === 10) {
                    if (content) total++;
                    content = false;
                } else if (!isBlankByte(byte)) content = true;
            }
        }
        if (content) total++;
    }
    return total;
}
