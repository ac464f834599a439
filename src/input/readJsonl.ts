import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { parseRecord, type InputRow } from "./inputRow.js";

/** Streams the records of JSONL, one per non-blank line. */
export async function* readJsonl(stream: Readable, source: string): AsyncIterable<InputRow> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let line = 0;
    for await (const raw of lines) {
        line++;
        const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
        if (text.trim() === "") continue;
        yield { source, line, format: "jsonl", text, ...parseRecord(text) };
    }
}
