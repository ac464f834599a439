import { parse } from "csv-parse";
import type { Readable } from "node:stream";
import type { DelimitedHeader, InputRow } from "./inputRow.js";
import { defaultMaxLineBytes } from "./readJsonl.js";

type Parsed = { record: string[]; raw: string };

/** Streams CSV or TSV records (header row first; quotes, embedded newlines, BOM and CRLF handled by csv-parse). */
export async function* readDelimited(stream: Readable, source: string, format: "csv" | "tsv", maxRecordChars = defaultMaxLineBytes): AsyncIterable<InputRow> {
    const delimiter = format === "csv" ? "," : "\t";
    const parser = parse({
        delimiter,
        bom: true,
        raw: true,
        relax_column_count: true,
        // TSV has no quoting convention worth guessing at; CSV follows RFC 4180
        quote: format === "csv" ? '"' : false,
        max_record_size: maxRecordChars,
    });
    // Fed by hand rather than piped: a piped parser's error overtakes the records parsed before it, and those
    // rows would be lost.
    let failure: Error | undefined;
    parser.on("error", (error: Error) => { failure = error; });
    let header: DelimitedHeader | undefined;
    let nextLine = 1;
    function* parsed(): Generator<InputRow> {
        for (let next = parser.read() as Parsed | null; next !== null; next = parser.read() as Parsed | null) {
            const { record, raw } = next;
            // csv-parse's raw text may or may not carry the line ending (it varies with delimiter detection)
            const ending = /(\r\n|\n|\r)$/.exec(raw)?.[0];
            const text = ending === undefined ? raw : raw.slice(0, -ending.length);
            const eol = ending === "\n" || ending === undefined ? "\n" : "\r\n";
            // counted here: csv-parse's own line count takes a CRLF inside quotes for two lines
            const line = nextLine;
            nextLine += 1 + (text.match(/\n/g)?.length ?? 0);
            if (text.trim() === "") continue;
            if (header === undefined) {
                header = { names: record, text, delimiter, eol };
                continue;
            }
            const row: InputRow = { source, line, format, text, header };
            if (record.length !== header.names.length) yield { ...row, parseError: `expected ${header.names.length} columns, found ${record.length}` };
            else yield { ...row, record: Object.fromEntries(header.names.map((name, i) => [name, record[i]])) };
        }
    }
    const broken = (): InputRow => ({ source, line: nextLine, format, text: "", parseError: `unreadable CSV from here on: ${failure!.message}` });
    for await (const chunk of stream as AsyncIterable<Buffer>) {
        parser.write(chunk);
        yield* parsed();
        if (failure !== undefined) {
            // csv-parse cannot go on after a broken record (an unclosed quote, one over the size limit): say where, stop
            yield broken();
            stream.destroy();
            return;
        }
    }
    await new Promise<void>((resolve) => {
        parser.once("finish", resolve);
        parser.once("error", () => resolve());
        parser.end();
    });
    yield* parsed();
    if (failure !== undefined) yield broken();
}
