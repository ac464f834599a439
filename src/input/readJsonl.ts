import { isUtf8 } from "node:buffer";
import { notUtf8, parseRecord, type InputRow } from "./inputRow.js";

/** Lines longer than this become error rows instead of filling memory: 64 MiB. */
export const defaultMaxLineBytes = 64 * 1024 * 1024;

/**
 * Streams the records of JSONL, one per non-blank line. Memory stays bounded: a line over `maxLineBytes` is
 * dropped as it streams and reported as an error row.
 */
export async function* readJsonl(stream: AsyncIterable<Buffer>, source: string, maxLineBytes = defaultMaxLineBytes): AsyncIterable<InputRow> {
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
            ? { source, line, format: "jsonl" as const, text: "", parseError: `the line is over the ${maxLineBytes}-byte limit` }
            : toRow(Buffer.concat(parts), source, line);
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

function toRow(bytes: Buffer, source: string, line: number): InputRow | undefined {
    const raw = bytes.toString("utf8");
    let text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (line === 1) text = text.replace(/^\uFEFF/, "");
    if (text.trim() === "") return undefined;
    if (!isUtf8(bytes)) return { source, line, format: "jsonl", text, parseError: notUtf8 };
    return { source, line, format: "jsonl", text, ...parseRecord(text) };
}
