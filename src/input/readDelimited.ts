import { parse } from "csv-parse";
import type { Readable } from "node:stream";
import type { DelimitedHeader, InputFormat, InputRow } from "./inputRow.js";

type Parsed = { record: string[]; raw: string };

/** Streams CSV or TSV records (header row first; quotes, embedded newlines, BOM and CRLF handled by csv-parse). */
export async function* readDelimited(stream: Readable, source: string, format: "csv" | "tsv"): AsyncIterable<InputRow> {
    const delimiter = format === "csv" ? "," : "\t";
    const parser = stream.pipe(parse({
        delimiter,
        bom: true,
        raw: true,
        relax_column_count: true,
        // TSV has no quoting convention worth guessing at; CSV follows RFC 4180
        quote: format === "csv" ? '"' : false,
    }));
    let header: DelimitedHeader | undefined;
    let nextLine = 1;
    for await (const { record, raw } of parser as AsyncIterable<Parsed>) {
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
        const row: InputRow = { source, line, format: format as InputFormat, text, header };
        if (record.length !== header.names.length) {
            yield { ...row, parseError: `expected ${header.names.length} columns, found ${record.length}` };
            continue;
        }
        yield { ...row, record: Object.fromEntries(header.names.map((name, i) => [name, record[i]])) };
    }
}
