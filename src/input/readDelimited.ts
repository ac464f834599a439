import { parse } from "csv-parse";
import type { Readable } from "node:stream";
import type { DelimitedHeader, InputFormat, InputRow } from "./inputRow.js";

type Parsed = { record: string[]; raw: string; info: { lines: number; error?: unknown } };

/** Streams CSV or TSV records (header row first; quotes, embedded newlines, BOM and CRLF handled by csv-parse). */
export async function* readDelimited(stream: Readable, source: string, format: "csv" | "tsv"): AsyncIterable<InputRow> {
    const delimiter = format === "csv" ? "," : "\t";
    const parser = stream.pipe(parse({
        delimiter,
        bom: true,
        raw: true,
        info: true,
        relax_column_count: true,
        skip_empty_lines: true,
        // TSV has no quoting convention worth guessing at; CSV follows RFC 4180
        quote: format === "csv" ? '"' : false,
    }));
    let header: DelimitedHeader | undefined;
    for await (const { record, raw, info } of parser as AsyncIterable<Parsed>) {
        const eol = raw.endsWith("\r") ? "\r\n" : "\n";
        const text = eol === "\r\n" ? raw.slice(0, -1) : raw;
        // info.lines is the record's last line; quoted fields may span several
        const line = info.lines - (text.match(/\n/g)?.length ?? 0);
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
