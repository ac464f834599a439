import { closeSync, constants, createReadStream, openSync, readdirSync, readSync, statSync } from "node:fs";
import { Socket } from "node:net";
import { join } from "node:path";
import { addAbortSignal, type Readable } from "node:stream";
import { crc32, createInflateRaw } from "node:zlib";
import { UsageError } from "../errors.js";
import type { DelimitedHeader, InputFormat, InputRow } from "./inputRow.js";
import { readJsonl } from "./readJsonl.js";
import { readJsonArray } from "./readJsonArray.js";
import { readDelimited } from "./readDelimited.js";
import { refuseDelimitedStdin } from "./refuseDelimitedStdin.js";
import { parquetMetadata, readParquet } from "./readParquet.js";

export const inputFormats: readonly InputFormat[] = ["jsonl", "json", "csv", "tsv", "parquet"];

const extensions: Record<string, InputFormat> = { jsonl: "jsonl", ndjson: "jsonl", json: "json", csv: "csv", tsv: "tsv", parquet: "parquet" };

/** Where rows come from: file paths, or `-` for standard input. Aborting `signal` stops reading a pipe at once. */
export type InputSpec = {
    paths: string[];
    stdin: Readable;
    format?: InputFormat;
    maxRecordBytes?: number;
    signal?: AbortSignal;
    /** Told about damage that loses no row (trailing garbage after gzip data). */
    warn?: (message: string) => void;
    /** Given each CSV/TSV header as it is read, also of a file with no rows under it. */
    onHeader?: (header: DelimitedHeader) => void;
};

/** The name a row's source is reported under. */
export function sourceName(path: string): string {
    return path === "-" ? "<stdin>" : path;
}

/**
 * The format of one input: `--input-format`, else Parquet when the file starts with its `PAR1` magic, else its
 * extension (under any `.gz`); stdin and pipes default to JSONL.
 */
export function formatOf(path: string, override: InputFormat | undefined): InputFormat {
    if (override === "parquet" && (path === "-" || isStream(path)))
        throw new UsageError(`Parquet cannot be read from ${path === "-" ? "standard input" : "a pipe"} (its index is at the end of the file): save it to a file first`);
    if (override !== undefined) return override;
    if (path === "-") return "jsonl";
    if (startsWithParquetMagic(path)) return "parquet";
    const extension = /\.([a-z]+)(?:\.gz)?$/i.exec(path)?.[1]?.toLowerCase();
    const format = extension === undefined ? undefined : extensions[extension];
    if (format === undefined && isStream(path)) return "jsonl"; // `<(zcat f.gz)` is /dev/fd/63
    if (format === undefined)
        throw new UsageError(`cannot tell the format of ${path}: name it .jsonl, .ndjson, .json, .csv, .tsv (optionally .gz) or .parquet, or give --input-format`);
    return format;
}

/** A pipe (`<(zcat f.gz)`, a named pipe) or a character device (/dev/stdin, /dev/null): read once, as a stream. */
function isStream(path: string): boolean {
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat !== undefined && (stat.isFIFO() || stat.isCharacterDevice());
}

function startsWithParquetMagic(path: string): boolean {
    // only regular files: opening a FIFO would wait for its writer, and its bytes are not ours to take
    if (!isKind(path, "file")) return false;
    const fd = openSync(path, "r");
    try {
        const start = Buffer.alloc(4);
        return readSync(fd, start, 0, 4, 0) === 4 && start.toString("latin1") === "PAR1";
    } finally {
        closeSync(fd);
    }
}

/** Inputs with every folder replaced by the files in it that nemoreward reads, in name order (`train-00000-of-00004.parquet`, ...). */
export function expandInputs(paths: readonly string[]): string[] {
    return paths.flatMap((path) => {
        if (path === "-" || !isKind(path, "folder")) return [path];
        const files = readdirSync(path, { withFileTypes: true })
            .filter((entry) => entry.isFile() && /\.(jsonl|ndjson|json|csv|tsv)(\.gz)?$|\.parquet$/i.test(entry.name))
            .map((entry) => entry.name).sort().map((name) => join(path, name));
        if (files.length === 0) throw new UsageError(`${path} holds no .parquet, .jsonl, .ndjson, .json, .csv or .tsv (.gz) file`);
        return files;
    });
}

function isKind(path: string, kind: "file" | "folder"): boolean {
    try {
        const stats = statSync(path);
        return kind === "file" ? stats.isFile() : stats.isDirectory();
    } catch {
        return false;
    }
}

/** Fails fast, before any model is loaded, on inputs that cannot be read. */
export function checkInputs(spec: Pick<InputSpec, "paths" | "format">): void {
    for (const path of spec.paths) {
        if (path === "-") {
            formatOf(path, spec.format); // refuses Parquet on stdin
            continue;
        }
        let isFile: boolean;
        try {
            isFile = statSync(path).isFile();
        } catch {
            throw new UsageError(`input file not found: ${path}`);
        }
        if (!isFile && !isStream(path)) throw new UsageError(`input is not a file or a pipe: ${path}`);
        formatOf(path, spec.format);
    }
}

/** Streams the rows of every input in turn, gunzipping those that start with the gzip magic bytes. */
export async function* readInputs({ paths, stdin, format, maxRecordBytes, signal, warn, onHeader }: InputSpec): AsyncIterable<InputRow> {
    for (const path of paths) {
        const source = sourceName(path);
        const inputFormat = formatOf(path, format);
        if (inputFormat === "parquet") {
            yield* readParquet(path, source);
            continue;
        }
        const bytes = inputBytes(path === "-" ? stdin : openInput(path, signal), (message) => warn?.(`${source}: ${message}`));
        let last: InputRow | undefined;
        try {
            const rows = inputFormat === "jsonl" ? readJsonl(bytes, source, maxRecordBytes)
                : inputFormat === "json" ? readJsonArray(bytes, source, maxRecordBytes)
                : readDelimited(bytes, source, inputFormat, maxRecordBytes, onHeader);
            for await (const row of rows) {
                if (last === undefined && path === "-" && format === undefined) refuseDelimitedStdin(row);
                last = row;
                yield row;
            }
        } catch (error) {
            if (!(error instanceof BrokenGzip)) throw error;
            // every row before the break has been read; what follows it cannot be, and becomes one error row
            const line = last === undefined ? 1 : last.line + 1 + (last.text.match(/\n/g)?.length ?? 0);
            yield { source, line, format: inputFormat, text: "", parseError: error.message };
        }
    }
}

/**
 * A file, or a named pipe read through the event loop: a pipe read in the thread pool, as file streams read, would
 * keep the process alive after an interrupt until the pipe's writer writes or closes. Opened non-blocking, a pipe
 * with no writer yet waits for one in the event loop too.
 */
function openInput(path: string, signal: AbortSignal | undefined): Readable {
    if (statSync(path, { throwIfNoEntry: false })?.isFIFO() !== true) return createReadStream(path);
    const pipe = new Socket({ fd: openSync(path, constants.O_RDONLY | constants.O_NONBLOCK), readable: true, writable: false });
    return signal === undefined ? pipe : addAbortSignal(signal, pipe);
}

/** A gzip stream that breaks off (a truncated file) or is corrupt; raised only after every byte before the break. */
class BrokenGzip extends Error {}

const endsEarly = "the gzip stream ends early (truncated file?)";

/** The bytes of one input; compressed input (it starts with the gzip magic bytes) is decompressed as it streams. */
async function* inputBytes(stream: Readable, warn: (message: string) => void): AsyncIterable<Buffer> {
    const reader = new ByteReader(stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>);
    try {
        const start = await reader.take(2);
        reader.unread(start);
        if (start[0] === 0x1f && start[1] === 0x8b) yield* gunzip(reader, warn);
        else for (let next = await reader.next(); next !== undefined; next = await reader.next()) yield next;
    } finally {
        await reader.close();
    }
}

/**
 * Decompresses gzip as gzip does: member after member (`cat a.gz b.gz`), each checked against its CRC and length;
 * zero bytes after the last member are padding and ignored, other bytes are trailing garbage, reported once. Every
 * decoded byte is passed on before BrokenGzip is thrown.
 */
async function* gunzip(reader: ByteReader, warn: (message: string) => void): AsyncIterable<Buffer> {
    for (;;) {
        await skipHeader(reader);
        yield* inflateMember(reader);
        const next = await reader.take(2);
        if (next.length === 0) return;
        reader.unread(next);
        if (next[0] === 0x1f && next[1] === 0x8b) continue;
        if (!(await reader.onlyZeros())) warn("trailing garbage after the gzip data ignored (as gzip -t reports it)");
        return;
    }
}

/** A gzip member's header (RFC 1952): fixed fields, then optional extra field, name, comment and header CRC. */
async function skipHeader(reader: ByteReader): Promise<void> {
    const fixed = await reader.take(10);
    if (fixed.length < 10) throw new BrokenGzip(endsEarly);
    if (fixed[2] !== 8) throw new BrokenGzip("the gzip data is corrupt (unknown compression method)");
    const flags = fixed[3]!;
    const skip = async (length: number) => {
        if ((await reader.take(length)).length < length) throw new BrokenGzip(endsEarly);
    };
    if (flags & 4) {
        const length = await reader.take(2);
        await skip(length.length < 2 ? 2 : length.readUInt16LE(0));
    }
    for (const flag of [8, 16]) if (flags & flag && !(await reader.skipPastZero())) throw new BrokenGzip(endsEarly);
    if (flags & 2) await skip(2);
}

/**
 * One member's deflate data, then its trailer. Inflated by hand rather than piped: a failing stream throws away
 * the output it holds, and the lines decoded just before a break would be lost.
 */
async function* inflateMember(reader: ByteReader): AsyncIterable<Buffer> {
    const inflate = createInflateRaw();
    const decoded: Buffer[] = [];
    let failure: Error | undefined, ended = false;
    // resolves when `start`'s operation is done, or when the stream ends or fails (which may leave it undone)
    let settle = () => {};
    const settled = (start: (done: () => void) => void) => new Promise<void>((resolve) => {
        settle = resolve;
        start(resolve);
    });
    inflate.on("data", (piece: Buffer) => decoded.push(piece));
    inflate.on("error", (error: Error) => {
        failure = error;
        settle();
    });
    inflate.on("end", () => {
        ended = true;
        settle();
    });
    let crc = 0, size = 0, fed = 0;
    try {
        while (!ended && failure === undefined) {
            const chunk = await reader.next();
            if (chunk === undefined) {
                await settled((done) => inflate.end(() => done()));
                failure ??= ended ? undefined : new Error(endsEarly);
            }
            // in small pieces: what one piece decodes to sits in memory at once (up to ~1000 times its size)
            for (let at = 0; chunk !== undefined && at < chunk.length && !ended && failure === undefined; at += 16 * 1024) {
                const piece = chunk.subarray(at, at + 16 * 1024);
                fed += piece.length;
                await settled((done) => inflate.write(piece, () => done()));
                // the member's data ends inside this piece: what follows it is the trailer and whatever comes next
                if (ended || inflate.bytesWritten < fed) {
                    ended = true;
                    reader.unread(chunk.subarray(at + piece.length - (fed - inflate.bytesWritten)));
                }
            }
            for (const piece of decoded.splice(0)) {
                crc = crc32(piece, crc);
                size += piece.length;
                yield piece;
            }
        }
    } finally {
        inflate.destroy();
    }
    if (failure !== undefined) {
        const code = (failure as NodeJS.ErrnoException).code;
        throw new BrokenGzip(code === "Z_BUF_ERROR" || failure.message === endsEarly ? endsEarly : `the gzip data is corrupt (${failure.message})`);
    }
    const trailer = await reader.take(8);
    if (trailer.length < 8) throw new BrokenGzip(endsEarly);
    if (trailer.readUInt32LE(0) !== crc >>> 0 || trailer.readUInt32LE(4) !== size % 2 ** 32)
        throw new BrokenGzip("the gzip data is corrupt (its checksum does not match)");
}

/** A stream's bytes read a few at a time, with bytes read too far handed back for the next read. */
class ByteReader {
    private held: Buffer[] = [];

    constructor(private readonly chunks: AsyncIterator<Buffer | string>) {}

    /** The next bytes (those handed back first), or undefined at the end. */
    async next(): Promise<Buffer | undefined> {
        const held = this.held.shift();
        if (held !== undefined) return held;
        const next = await this.chunks.next();
        return next.done ? undefined : Buffer.from(next.value);
    }

    unread(bytes: Buffer): void {
        if (bytes.length > 0) this.held.unshift(bytes);
    }

    /** The next `length` bytes, fewer at the end. */
    async take(length: number): Promise<Buffer> {
        const parts: Buffer[] = [];
        let size = 0;
        for (let next = size < length ? await this.next() : undefined; next !== undefined; next = size < length ? await this.next() : undefined) {
            parts.push(next);
            size += next.length;
        }
        const bytes = Buffer.concat(parts);
        this.unread(bytes.subarray(length));
        return bytes.subarray(0, length);
    }

    /** Skips past the next zero byte (the end of a gzip header's name or comment); false at the end. */
    async skipPastZero(): Promise<boolean> {
        for (let next = await this.next(); next !== undefined; next = await this.next()) {
            const zero = next.indexOf(0);
            if (zero !== -1) {
                this.unread(next.subarray(zero + 1));
                return true;
            }
        }
        return false;
    }

    /** Reads to the end; false, stopping there, at the first byte that is not zero. */
    async onlyZeros(): Promise<boolean> {
        for (let next = await this.next(); next !== undefined; next = await this.next())
            if (next.some((byte) => byte !== 0)) return false;
        return true;
    }

    async close(): Promise<void> {
        await this.chunks.return?.();
    }
}

/**
 * Rows to expect, for progress and ETA: the non-blank lines of plain JSONL files, the row counts in Parquet footers.
 * Undefined when any input cannot be counted without parsing it (stdin and pipes, which can be read only once; gzip,
 * JSON, CSV whose quoted fields may span lines).
 */
export async function countRows(paths: readonly string[], format: InputFormat | undefined): Promise<number | undefined> {
    let total = 0;
    for (const path of paths) {
        const inputFormat = path === "-" ? undefined : formatOf(path, format);
        if (inputFormat === "parquet") {
            total += Number((await parquetMetadata(path)).num_rows);
            continue;
        }
        if (inputFormat !== "jsonl" || isStream(path)) return undefined;
        let first = true, content = false;
        for await (const chunk of createReadStream(path) as AsyncIterable<Buffer>) {
            if (first && chunk[0] === 0x1f && chunk[1] === 0x8b) return undefined;
            first = false;
            for (const byte of chunk) {
                if (byte === 10) {
                    if (content) total++;
                    content = false;
                } else if (byte !== 32 && byte !== 9 && byte !== 13) content = true;
            }
        }
        if (content) total++;
    }
    return total;
}
