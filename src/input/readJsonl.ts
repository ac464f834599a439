import { createInterface } from "node:readline";
import type { Readable } from "node:stream";

/** One non-blank input line: its text as read, and the JSON record it holds (or why it holds none). */
export type InputRow = {
    source: string;
    /** 1-based line number in `source`. */
    line: number;
    text: string;
    record?: Record<string, unknown>;
    parseError?: string;
};

/** Streams the records of a JSONL source, one per non-blank line, without reading the whole source. */
export async function* readJsonl(stream: Readable, source: string): AsyncIterable<InputRow> {
    const lines = createInterface({ input: stream, crlfDelay: Infinity });
    let line = 0;
    for await (const raw of lines) {
        line++;
        const text = line === 1 ? raw.replace(/^\uFEFF/, "") : raw;
        if (text.trim() === "") continue;
        yield { source, line, text, ...parseRecord(text) };
    }
}

function parseRecord(text: string): Pick<InputRow, "record" | "parseError"> {
    let value: unknown;
    try {
        value = JSON.parse(text);
    } catch (error) {
        return { parseError: `not valid JSON (${(error as Error).message})` };
    }
    if (value === null || typeof value !== "object" || Array.isArray(value))
        return { parseError: "not a JSON object" };
    return { record: value as Record<string, unknown> };
}
