import { isUtf8 } from "node:buffer";
import { parseRecord } from "../records/json.js";
import type { InputRow, Source } from "../records/row.js";
import { defaultMaxRecordBytes, notUtf8, readJsonl } from "./jsonl.js";

// The bytes the scan looks at: all ASCII, and UTF-8 never uses an ASCII byte inside a multi-byte character, so the
// scan can work on bytes and each item's own bytes can be checked as UTF-8.
const [quote, backslash, comma, newline] = [0x22, 0x5c, 0x2c, 0x0a];
const [openBrace, closeBrace, openBracket, closeBracket] = [0x7b, 0x7d, 0x5b, 0x5d];
const whitespace = new Set([0x20, 0x09, 0x0a, 0x0d]);
const byteOrderMark = new Set([0xef, 0xbb, 0xbf]);
/** JSON's own whitespace around an item: other spaces (a no-break space) are not JSON's, and make the item invalid. */
const jsonSpaceAround = /^[ \t\r\n]+|[ \t\r\n]+$/g;

/**
 * Streams the items of a JSON array (`[{...}, {...}]`) one at a time, so a large file never sits in memory whole.
 * It only finds where each top-level item starts and ends (strings and nesting tracked); JSON.parse does the rest.
 * An item over `maxItemBytes` or whose bytes are not UTF-8 is an error row.
 */
export async function* readJsonArray(input: AsyncIterable<Buffer>, source: Source, maxItemBytes = defaultMaxRecordBytes): AsyncIterable<InputRow> {
    const { first, second, stream } = await firstBytes(input);
    // A .json file that starts with an object holds JSON Lines (as Hugging Face dumps often do), unless the object
    // is pretty-printed (`{` alone on its line, which no JSON Lines file has): then the file is that one record.
    if (first === openBrace && second !== newline) return yield* readJsonl(stream, source, maxItemBytes);
    if (first === openBrace) return yield await wholeRecord(stream, source, maxItemBytes);
    let state = "before" as "before" | "between" | "item" | "after";
    let parts: Buffer[] = [], size = 0, depth = 0, inString = false, escaped = false;
    let line = 1, itemLine = 1;
    const keep = (bytes: Buffer) => {
        size += bytes.length;
        if (size <= maxItemBytes) parts.push(bytes);
    };
    const finish = (): InputRow => {
        const bytes = Buffer.concat(parts);
        const text = bytes.toString("utf8").replace(jsonSpaceAround, "");
        const row: InputRow = size > maxItemBytes
            ? { source, line: itemLine, text: "", problem: `the item is over the ${maxItemBytes}-byte limit` }
            : !isUtf8(bytes) ? { source, line: itemLine, text, problem: notUtf8 }
            : { source, line: itemLine, text, ...parseRecord(text) };
        parts = [];
        size = 0;
        state = "between";
        return row;
    };
    for await (const chunk of stream) {
        let start = 0; // where the current item's bytes begin in this chunk
        for (let i = 0; i < chunk.length; i++) {
            const c = chunk[i]!;
            if (state === "item") {
                let end = false;
                if (inString) {
                    if (escaped) escaped = false;
                    else if (c === backslash) escaped = true;
                    else if (c === quote) inString = false;
                } else if (c === quote) inString = true;
                else if (c === openBrace || c === openBracket) depth++;
                else if (c === closeBrace || c === closeBracket) {
                    if (depth === 0) end = true; // the array's own closing bracket
                    else depth--;
                } else if (c === comma && depth === 0) end = true;
                if (end) {
                    keep(chunk.subarray(start, i));
                    yield finish();
                    if (c !== comma) state = "after";
                }
            } else if (whitespace.has(c) || (state === "before" && byteOrderMark.has(c))) {
                // whitespace between tokens
            } else if (state === "before" && c === openBracket) {
                state = "between";
            } else if (state === "between" && c === closeBracket) {
                state = "after";
            } else if (state === "between") {
                state = "item";
                itemLine = line;
                start = i;
                inString = c === quote;
                depth = c === openBrace || c === openBracket ? 1 : 0;
            } else {
                // Past a structural error nothing more can be read reliably: say where, and stop this source.
                const reason = state === "before" ? "a .json file must hold an array of records" : "text after the closing ]";
                yield { source, line, text: "", problem: reason };
                return;
            }
            if (c === newline) line++;
        }
        if (state === "item") keep(chunk.subarray(start));
    }
    if (state === "item") yield { source, line: itemLine, text: Buffer.concat(parts).toString("utf8").replace(jsonSpaceAround, ""), problem: "the JSON array is cut off here" };
    else if (state !== "after") yield { source, line, text: "", problem: "the JSON array is not closed" };
}

/** A file that is one JSON record, read whole up to `maxBytes`. */
async function wholeRecord(stream: AsyncIterable<Buffer>, source: Source, maxBytes: number): Promise<InputRow> {
    const parts: Buffer[] = [];
    let size = 0;
    for await (const chunk of stream) {
        size += chunk.length;
        if (size <= maxBytes) parts.push(chunk);
    }
    const bytes = Buffer.concat(parts);
    const text = bytes.toString("utf8").replace(/^\uFEFF/, "").replace(jsonSpaceAround, "");
    if (size > maxBytes) return { source, line: 1, text: "", problem: `the record is over the ${maxBytes}-byte limit` };
    if (!isUtf8(bytes)) return { source, line: 1, text, problem: notUtf8 };
    return { source, line: 1, text, ...parseRecord(text) };
}

/**
 * The first byte that is not whitespace or a byte order mark, the next one after it that is not a space, tab or CR
 * (a newline counts), and the stream from its start, nothing consumed.
 */
async function firstBytes(input: AsyncIterable<Buffer>): Promise<{ first: number | undefined; second: number | undefined; stream: AsyncIterable<Buffer> }> {
    const chunks = input[Symbol.asyncIterator]();
    const seen: Buffer[] = [];
    let first: number | undefined, second: number | undefined;
    while (second === undefined) {
        const next = await chunks.next();
        if (next.done) break;
        seen.push(next.value);
        for (const c of next.value) {
            if (first === undefined) {
                if (!whitespace.has(c) && !byteOrderMark.has(c)) first = c;
            } else if (c !== 0x20 && c !== 0x09 && c !== 0x0d) {
                second = c;
                break;
            }
        }
    }
    async function* replay(): AsyncIterable<Buffer> {
        try {
            yield* seen;
            for (let next = await chunks.next(); !next.done; next = await chunks.next()) yield next.value;
        } finally {
            await chunks.return?.();
        }
    }
    return { first, second, stream: replay() };
}
