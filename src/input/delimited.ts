import { isUtf8 } from "node:buffer";
import { createReadStream } from "node:fs";
import { splitFields } from "../records/csvText.js";
import type { InputRow, Source } from "../records/row.js";
import { byteOrderMark, isBlank, isBlankByte } from "./blank.js";
import { defaultMaxRecordBytes, notUtf8 } from "./jsonl.js";

/** Where the scan of a record is (csvText.ts has the rules). */
const enum State { FieldStart, Unquoted, Quoted, AfterQuote, AfterCr }

const quote = 0x22, lf = 0x0a, cr = 0x0d;

/** One record as the scan found it: its bytes without their line ending (none when over the limit), and where it starts. */
export type RawRecord = { body: Buffer; eol: "\n" | "\r\n"; line: number; overSize?: number; unclosed: boolean };

/**
 * The records of CSV or TSV bytes, found by a scan that follows the quoting rules (csvText.ts) and holds at most
 * `maxRecordBytes` of one record: a larger record (a 200 MB quoted cell) streams past, its size counted, and the
 * records after it are found as usual. A UTF-8 byte-order mark at the start is dropped.
 */
export async function* delimitedRecords(stream: AsyncIterable<Buffer>, delimiter: "," | "\t", maxRecordBytes: number): AsyncIterable<RawRecord> {
    const separator = delimiter.charCodeAt(0);
    let state = State.FieldStart;
    let parts: Buffer[] = [];
    let size = 0;
    let tooLong = false;
    let nextLine = 1;
    let first = true;
    const keep = (bytes: Buffer) => {
        if (bytes.length === 0) return;
        size += bytes.length;
        if (size > maxRecordBytes) {
            tooLong = true;
            parts = [];
        } else if (!tooLong) parts.push(Buffer.from(bytes));
    };
    /** The record just ended (with its line ending, or without at the end of the input). */
    const finish = (unclosed: boolean): RawRecord => {
        let bytes = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
        if (first) {
            bytes = bytes.subarray(0, 3).equals(byteOrderMark) ? bytes.subarray(3) : bytes;
            first = false;
        }
        const crlf = bytes.at(-1) === lf && bytes.at(-2) === cr;
        const body = bytes.subarray(0, bytes.length - (crlf ? 2 : bytes.at(-1) === lf ? 1 : 0));
        const record: RawRecord = { body, eol: crlf ? "\r\n" : "\n", line: nextLine, unclosed, ...(tooLong ? { overSize: size } : {}) };
        nextLine += Math.max(1, countNewlines(body) + (body.length < bytes.length ? 1 : 0));
        parts = [];
        size = 0;
        tooLong = false;
        return record;
    };
    for await (const chunk of stream) {
        let start = 0;
        for (let i = 0; i < chunk.length; i++) {
            if (state === State.Quoted) {
                // inside quotes only a quote matters: jump to the next one
                const next = chunk.indexOf(quote, i);
                if (next === -1) break;
                i = next;
                state = State.AfterQuote;
                continue;
            }
            const c = chunk[i]!;
            if (state === State.AfterQuote && c === quote) {
                state = State.Quoted; // "" inside quotes: a quote
            } else if (c === lf) {
                keep(chunk.subarray(start, i + 1));
                start = i + 1;
                state = State.FieldStart;
                yield finish(false);
            } else if (c === cr) {
                state = State.AfterCr;
            } else if (c === separator) {
                state = State.FieldStart;
            } else {
                state = c === quote && state === State.FieldStart ? State.Quoted : State.Unquoted;
            }
        }
        keep(chunk.subarray(start));
    }
    if (size > 0 || tooLong) yield finish(state === State.Quoted);
}

/**
 * Streams CSV or TSV rows, the header row first (it is set on `source` as soon as it is read, also for a file with no
 * row under it). A blank line (blank.ts) is no row; a record that is over the limit, not UTF-8, unclosed, or has
 * another number of fields than the header is an error row, and the records after it are read as usual.
 */
export async function* readDelimited(stream: AsyncIterable<Buffer>, source: Source, delimiter: "," | "\t",
    maxRecordBytes = defaultMaxRecordBytes): AsyncIterable<InputRow> {
    for await (const { body, eol, line, overSize, unclosed } of delimitedRecords(stream, delimiter, maxRecordBytes)) {
        const text = overSize === undefined ? body.toString("utf8") : "";
        if (overSize === undefined && isBlank(text) && !text.includes(delimiter)) continue;
        const utf8 = overSize === undefined && isUtf8(body);
        if (source.header === undefined && utf8 && !unclosed) {
            source.header = { names: uniqueNames(splitFields(text, delimiter)), text, delimiter, eol };
            continue;
        }
        const row: InputRow = { source, line, text };
        if (overSize !== undefined) yield { ...row, problem: `the record is over the ${maxRecordBytes}-byte limit` };
        else if (unclosed) yield { ...row, problem: "a quoted field is not closed: it runs to the end of the file" };
        else if (!utf8) yield { ...row, problem: notUtf8 };
        else if (source.header === undefined) yield { ...row, problem: "no header: the first record is not UTF-8 text" };
        else {
            const fields = splitFields(text, delimiter);
            const names = source.header.names;
            yield fields.length !== names.length ? { ...row, problem: `expected ${names.length} columns, found ${fields.length}` }
                : { ...row, record: Object.fromEntries(names.map((name, i) => [name, fields[i]!])) };
        }
    }
}

/**
 * The rows of CSV or TSV bytes, for progress and ETA: the records the reader would read, found by the same scan
 * (a quoted cell may span lines), blank lines and the header left out; no field is parsed.
 */
export async function countDelimited(stream: AsyncIterable<Buffer>, delimiter: "," | "\t"): Promise<number> {
    let records = 0;
    for await (const { body, overSize } of delimitedRecords(stream, delimiter, defaultMaxRecordBytes)) {
        // the reader's rule for a blank line (readDelimited), on the bytes: it stops at the first that is not blank
        if (overSize === undefined && body.every(isBlankByte) && !body.includes(delimiter)) continue;
        records++;
    }
    return Math.max(0, records - 1);
}

function countNewlines(bytes: Buffer): number {
    let count = 0;
    for (let at = bytes.indexOf(lf); at !== -1; at = bytes.indexOf(lf, at + 1)) count++;
    return count;
}

/** Header names made unique as pandas does (`note`, `note.1`, ...), so that no column's cells overwrite another's. */
function uniqueNames(names: string[]): string[] {
    const seen = new Set<string>();
    return names.map((name) => {
        let unique = name;
        for (let n = 1; seen.has(unique); n++) unique = `${name}.${n}`;
        seen.add(unique);
        return unique;
    });
}

/** The header of a CSV/TSV file (one nemoreward wrote, being continued), read up to its first row. */
export async function readHeader(path: string, delimiter: "," | "\t"): Promise<{ names: string[]; eol: string } | undefined> {
    const source: Source = { name: path, format: delimiter === "," ? "csv" : "tsv" };
    const stream = createReadStream(path);
    try {
        for await (const _ of readDelimited(stream, source, delimiter)) break;
    } finally {
        stream.destroy();
    }
    return source.header === undefined ? undefined : { names: source.header.names, eol: source.header.eol };
}
