import { isUtf8 } from "node:buffer";
import { parseRecord } from "../records/json.js";
import type { InputRow, Source } from "../records/row.js";
import { byteOrderMark, isBlank } from "./blank.js";

/** A record (line) longer than this is an error row instead of filling memory: 64 MiB, unless --max-record-mb says otherwise. */
export const defaultMaxRecordBytes = 64 * 1024 * 1024;

/** The error of a row whose bytes are not UTF-8: it is reported, never decoded with replacement characters and scored. */
export const notUtf8 = "not valid UTF-8 text";

/**
 * Streams the records of JSONL, one per line that is not blank (blank.ts). Memory stays bounded: a line over
 * `maxLineBytes` is dropped as it streams and reported as an error row.
 */
export async function* readJsonl(stream: AsyncIterable<Buffer>, source: Source, maxLineBytes = defaultMaxRecordBytes): AsyncIterable<InputRow> {
    let parts: Buffer[] = [];
    let size = 0;
    let tooLong = false;
    let line = 0;
    const take = (piece: Buffer) => {
        if (tooLong || piece.length === 0) return;
        size += piece.length;
        if (size > maxLineBytes) {
            tooLong = true;
            parts = [];
        } else parts.push(Buffer.from(piece));
    };
    const finish = (): InputRow | undefined => {
        line++;
        const row = tooLong
            ? { source, line, text: "", problem: `the line is over the ${maxLineBytes}-byte limit` }
            : jsonRow(Buffer.concat(parts), source, line);
        parts = [];
        size = 0;
        tooLong = false;
        return row;
    };
    for await (const chunk of stream) {
        let start = 0;
        for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
            take(chunk.subarray(start, newline));
            start = newline + 1;
            const row = finish();
            if (row !== undefined) yield row;
        }
        take(chunk.subarray(start));
    }
    if (size > 0 || tooLong) {
        const row = finish();
        if (row !== undefined) yield row;
    }
}

/** One line's row: undefined when the line is blank. A byte-order mark is dropped at the start of the file only. */
function jsonRow(bytes: Buffer, source: Source, line: number): InputRow | undefined {
    const raw = bytes.toString("utf8");
    let text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === 1) text = text.replace(/^\uFEFF/, "");
    if (isBlank(text)) return undefined;
    // its text for the rejects (filter keeps an unreadable line's text): each byte that is not UTF-8 as U+DC80+byte
    // (Python's surrogateescape: JSON writes it as a visible \udcNN escape, and the bytes can be had back)
    if (!isUtf8(bytes)) return { source, line, text: escapedText(line === 1 ? bytes.subarray(bytes.subarray(0, 3).equals(byteOrderMark) ? 3 : 0) : bytes).replace(/\r$/, ""), problem: notUtf8 };
    return { source, line, text, ...parseRecord(text) };
}

/** Bytes as text, each byte that is not part of a valid UTF-8 character as U+DC80+byte (surrogateescape). */
export function escapedText(bytes: Uint8Array): string {
    let out = "";
    let start = 0; // the valid run not yet added
    let i = 0;
    while (i < bytes.length) {
        const b = bytes[i]!;
        const n = b < 0x80 ? 1 : b >= 0xc2 && b < 0xe0 ? 2 : b >= 0xe0 && b < 0xf0 ? 3 : b >= 0xf0 && b < 0xf5 ? 4 : 0;
        if (n > 0 && i + n <= bytes.length && (n === 1 || isUtf8(bytes.subarray(i, i + n)))) {
            i += n;
            continue;
        }
        out += Buffer.from(bytes.subarray(start, i)).toString("utf8") + String.fromCharCode(0xdc00 + b);
        start = ++i;
    }
    return out + Buffer.from(bytes.subarray(start)).toString("utf8");
}
