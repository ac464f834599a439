import { createReadStream, statSync } from "node:fs";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { UsageError } from "../errors.js";
import type { InputFormat, InputRow } from "./inputRow.js";
import { readJsonl } from "./readJsonl.js";
import { readJsonArray } from "./readJsonArray.js";
import { readDelimited } from "./readDelimited.js";

export const inputFormats: readonly InputFormat[] = ["jsonl", "json", "csv", "tsv"];

const extensions: Record<string, InputFormat> = { jsonl: "jsonl", ndjson: "jsonl", json: "json", csv: "csv", tsv: "tsv" };

/** Where rows come from: file paths, or `-` for standard input. */
export type InputSpec = { paths: string[]; stdin: Readable; format?: InputFormat; maxRecordBytes?: number };

/** The name a row's source is reported under. */
export function sourceName(path: string): string {
    return path === "-" ? "<stdin>" : path;
}

/** The format of one input: `--input-format`, else its extension (under any `.gz`); stdin defaults to JSONL. */
export function formatOf(path: string, override: InputFormat | undefined): InputFormat {
    if (override !== undefined) return override;
    if (path === "-") return "jsonl";
    const extension = /\.([a-z]+)(?:\.gz)?$/i.exec(path)?.[1]?.toLowerCase();
    const format = extension === undefined ? undefined : extensions[extension];
    if (format === undefined)
        throw new UsageError(`cannot tell the format of ${path}: name it .jsonl, .ndjson, .json, .csv or .tsv (optionally .gz), or give --input-format`);
    return format;
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
        if (!isFile) throw new UsageError(`input is not a file: ${path}`);
        formatOf(path, spec.format);
    }
}

/** Streams the rows of every input in turn, gunzipping those that start with the gzip magic bytes. */
export async function* readInputs({ paths, stdin, format, maxRecordBytes }: InputSpec): AsyncIterable<InputRow> {
    for (const path of paths) {
        const source = sourceName(path);
        const stream = await gunzipIfCompressed(path === "-" ? stdin : createReadStream(path));
        const inputFormat = formatOf(path, format);
        if (inputFormat === "jsonl") yield* readJsonl(stream, source, maxRecordBytes);
        else if (inputFormat === "json") yield* readJsonArray(stream, source, maxRecordBytes);
        else yield* readDelimited(stream, source, inputFormat, maxRecordBytes);
    }
}

/** Looks at the first bytes; compressed input is decompressed as it streams. */
async function gunzipIfCompressed(stream: Readable): Promise<Readable> {
    const chunks = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
    const head: Buffer[] = [];
    let length = 0;
    while (length < 2) {
        const next = await chunks.next();
        if (next.done) break;
        const chunk = Buffer.from(next.value);
        head.push(chunk);
        length += chunk.length;
    }
    const start = Buffer.concat(head);
    async function* rest(): AsyncIterable<Buffer> {
        yield start;
        for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield Buffer.from(next.value);
    }
    const bytes = Readable.from(rest(), { objectMode: false });
    return start[0] === 0x1f && start[1] === 0x8b ? bytes.pipe(createGunzip()) : bytes;
}

/**
 * Rows to expect, for progress and ETA: the non-blank lines of plain JSONL files. Undefined when any input cannot be
 * counted without parsing it (stdin, gzip, JSON, CSV whose quoted fields may span lines).
 */
export async function countRows(paths: readonly string[], format: InputFormat | undefined): Promise<number | undefined> {
    let total = 0;
    for (const path of paths) {
        if (path === "-" || formatOf(path, format) !== "jsonl") return undefined;
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
