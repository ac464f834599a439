import { constants, createReadStream, openSync, statSync } from "node:fs";
import { Socket } from "node:net";
import { addAbortSignal, type Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { UsageError } from "../errors.js";
import type { InputFormat, InputRow } from "./inputRow.js";
import { readJsonl } from "./readJsonl.js";
import { readJsonArray } from "./readJsonArray.js";
import { readDelimited } from "./readDelimited.js";
import { refuseDelimitedStdin } from "./refuseDelimitedStdin.js";

export const inputFormats: readonly InputFormat[] = ["jsonl", "json", "csv", "tsv"];

const extensions: Record<string, InputFormat> = { jsonl: "jsonl", ndjson: "jsonl", json: "json", csv: "csv", tsv: "tsv" };

/** Where rows come from: file paths, or `-` for standard input. Aborting `signal` stops reading a pipe at once. */
export type InputSpec = { paths: string[]; stdin: Readable; format?: InputFormat; maxRecordBytes?: number; signal?: AbortSignal };

/** The name a row's source is reported under. */
export function sourceName(path: string): string {
    return path === "-" ? "<stdin>" : path;
}

/** The format of one input: `--input-format`, else its extension (under any `.gz`); stdin and pipes default to JSONL. */
export function formatOf(path: string, override: InputFormat | undefined): InputFormat {
    if (override !== undefined) return override;
    if (path === "-") return "jsonl";
    const extension = /\.([a-z]+)(?:\.gz)?$/i.exec(path)?.[1]?.toLowerCase();
    const format = extension === undefined ? undefined : extensions[extension];
    if (format === undefined && isStream(path)) return "jsonl"; // `<(zcat f.gz)` is /dev/fd/63
    if (format === undefined)
        throw new UsageError(`cannot tell the format of ${path}: name it .jsonl, .ndjson, .json, .csv or .tsv (optionally .gz), or give --input-format`);
    return format;
}

/** A pipe (`<(zcat f.gz)`, a named pipe) or a character device (/dev/stdin, /dev/null): read once, as a stream. */
function isStream(path: string): boolean {
    const stat = statSync(path, { throwIfNoEntry: false });
    return stat !== undefined && (stat.isFIFO() || stat.isCharacterDevice());
}

/** Fails fast, before any model is loaded, on inputs that cannot be read. */
export function checkInputs(spec: Pick<InputSpec, "paths" | "format">): void {
    for (const path of spec.paths) {
        if (path === "-") continue;
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
export async function* readInputs({ paths, stdin, format, maxRecordBytes, signal }: InputSpec): AsyncIterable<InputRow> {
    for (const path of paths) {
        const source = sourceName(path);
        const bytes = inputBytes(path === "-" ? stdin : openInput(path, signal));
        const inputFormat = formatOf(path, format);
        let last: InputRow | undefined;
        try {
            const rows = inputFormat === "jsonl" ? readJsonl(bytes, source, maxRecordBytes)
                : inputFormat === "json" ? readJsonArray(bytes, source, maxRecordBytes)
                : readDelimited(bytes, source, inputFormat, maxRecordBytes);
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

/** The bytes of one input; compressed input (it starts with the gzip magic bytes) is decompressed as it streams. */
async function* inputBytes(stream: Readable): AsyncIterable<Buffer> {
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    let start = Buffer.alloc(0);
    while (start.length < 2) {
        const next = await chunks.next();
        if (next.done) break;
        start = Buffer.concat([start, Buffer.from(next.value)]);
    }
    async function* rest(): AsyncIterable<Buffer> {
        try {
            yield start;
            for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield Buffer.from(next.value);
        } finally {
            await chunks.return?.();
        }
    }
    yield* start[0] === 0x1f && start[1] === 0x8b ? gunzip(rest()) : rest();
}

/**
 * Decompresses gzip. Not piped: a gunzip stream that fails throws away the output it holds, and the lines decoded
 * just before a truncated end would be lost. Here every decoded byte is passed on before BrokenGzip is thrown.
 */
async function* gunzip(compressed: AsyncIterable<Buffer>): AsyncIterable<Buffer> {
    const inflate = createGunzip();
    const decoded: Buffer[] = [];
    let failure: Error | undefined;
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
    inflate.on("end", () => settle());
    try {
        for await (const chunk of compressed) {
            // in small pieces: what one piece decodes to sits in memory at once (up to ~1000 times its size)
            for (let at = 0; at < chunk.length && failure === undefined; at += 16 * 1024) {
                await settled((done) => inflate.write(chunk.subarray(at, at + 16 * 1024), () => done()));
                yield* decoded.splice(0);
            }
            if (failure !== undefined) break;
        }
        if (failure === undefined) await settled(() => inflate.end());
        yield* decoded.splice(0);
    } finally {
        inflate.destroy();
    }
    if (failure !== undefined) {
        const code = (failure as NodeJS.ErrnoException).code;
        throw new BrokenGzip(code === "Z_BUF_ERROR" ? "the gzip stream ends early (truncated file?)" : `the gzip data is corrupt (${failure.message})`);
    }
}

/**
 * Rows to expect, for progress and ETA: the non-blank lines of plain JSONL files. Undefined when any input cannot be
 * counted without parsing it (stdin and pipes, which can be read only once; gzip, JSON, CSV whose quoted fields may
 * span lines).
 */
export async function countRows(paths: readonly string[], format: InputFormat | undefined): Promise<number | undefined> {
    let total = 0;
    for (const path of paths) {
        if (path === "-" || formatOf(path, format) !== "jsonl" || isStream(path)) return undefined;
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
