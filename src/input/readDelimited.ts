import { parse, type Options } from "csv-parse";
import { isUtf8 } from "node:buffer";
import { notUtf8, type DelimitedHeader, type InputRow } from "./inputRow.js";
import { defaultMaxLineBytes } from "./readJsonl.js";

type Parsed = { record: string[]; info: { bytes: number } };

/** How CSV and TSV are read, here and wherever nemoreward reads back what it wrote (csv-parse options). */
export function delimitedSyntax(delimiter: string): Options {
    return {
        delimiter,
        relax_column_count: true,
        // either ending on any line: a CRLF header with LF rows appended (or the reverse) is common
        record_delimiter: ["\r\n", "\n"],
        // RFC 4180 quoting for CSV and TSV alike (as pandas and Python's csv module read TSV): a field that starts with
        // a quote is quoted, which is how nemoreward writes a value holding a line break or a tab; a quote anywhere
        // else in a field (`a 5" screen`) is text rather than a reason to give up on the rest of the file
        quote: '"',
        relax_quotes: true,
    };
}

/**
 * Streams CSV or TSV records (header row first; quotes, embedded newlines and CRLF handled by csv-parse). Each
 * record's own bytes are kept as its text and checked: invalid UTF-8 or more than `maxRecordBytes` makes it an error
 * row, and the records after it are read as usual.
 */
export async function* readDelimited(stream: AsyncIterable<Buffer>, source: string, format: "csv" | "tsv", maxRecordBytes = defaultMaxLineBytes,
    onHeader?: (header: DelimitedHeader) => void): AsyncIterable<InputRow> {
    const delimiter = format === "csv" ? "," : "\t";
    const parser = parse({
        ...delimitedSyntax(delimiter),
        // the BOM is dropped below: csv-parse would also take a UTF-16 one, and decode records we check as UTF-8
        bom: false,
        // info.bytes: where each record ends in the input, to find the record's own bytes
        info: true,
    });
    // csv-parse holds a record until it ends: an unclosed quote would pull in the rest of the file. Past this much,
    // the file is given up on (records over the limit but under this become error rows).
    const hardLimit = Math.max(defaultMaxLineBytes, 2 * maxRecordBytes);
    // Fed by hand rather than piped: a piped parser's error overtakes the records parsed before it, and those
    // rows would be lost.
    let failure: Error | undefined;
    parser.on("error", (error: Error) => { failure = error; });
    // the bytes fed to the parser that no record has claimed yet, from input offset `claimed` to `fed`
    let unclaimed: Buffer[] = [];
    let claimed = 0, fed = 0;
    const claim = (end: number): Buffer => {
        const bytes = unclaimed.length === 1 ? unclaimed[0]! : Buffer.concat(unclaimed);
        unclaimed = [bytes.subarray(end - claimed)];
        claimed = end;
        return bytes.subarray(0, bytes.length - unclaimed[0]!.length);
    };
    let header: DelimitedHeader | undefined;
    let nextLine = 1;
    function* parsed(): Generator<InputRow> {
        for (let next = parser.read() as Parsed | null; next !== null; next = parser.read() as Parsed | null) {
            const { record, info } = next;
            const bytes = claim(info.bytes);
            const raw = bytes.toString("utf8");
            const ending = /(\r\n|\n|\r)$/.exec(raw)?.[0];
            const text = ending === undefined ? raw : raw.slice(0, -ending.length);
            const eol = ending === "\n" || ending === undefined ? "\n" : "\r\n";
            // counted here: csv-parse's own line count takes a CRLF inside quotes for two lines
            const line = nextLine;
            nextLine += 1 + (text.match(/\n/g)?.length ?? 0);
            // a blank line is no record; a line of only delimiters is one, of empty fields
            if (text.trim() === "" && !text.includes(delimiter)) continue;
            if (header === undefined) {
                header = { names: uniqueNames(record), text, delimiter, eol, source };
                onHeader?.(header);
                continue;
            }
            const row: InputRow = { source, line, format, text, header };
            const size = bytes.length - (ending?.length ?? 0);
            if (size > maxRecordBytes) yield { ...row, parseError: `the record is over the ${maxRecordBytes}-byte limit` };
            else if (!isUtf8(bytes)) yield { ...row, parseError: notUtf8 };
            else if (record.length !== header.names.length) yield { ...row, parseError: `expected ${header.names.length} columns, found ${record.length}` };
            else yield { ...row, record: Object.fromEntries(header.names.map((name, i) => [name, record[i]])) };
        }
    }
    const broken = (): InputRow => ({ source, line: nextLine, format, text: "", parseError: `unreadable CSV from here on: ${failure!.message}` });
    let start: Buffer | undefined = Buffer.alloc(0);
    const feed = (bytes: Buffer) => {
        unclaimed.push(bytes);
        fed += bytes.length;
        parser.write(bytes);
    };
    for await (const chunk of stream) {
        if (start === undefined) feed(chunk);
        else {
            // the first three bytes tell whether the file starts with a UTF-8 byte-order mark
            start = Buffer.concat([start, chunk]);
            if (start.length < 3) continue;
            feed(start.subarray(start[0] === 0xef && start[1] === 0xbb && start[2] === 0xbf ? 3 : 0));
            start = undefined;
        }
        yield* parsed();
        if (fed - claimed > hardLimit) failure ??= new Error(`a record runs past ${hardLimit} bytes (an unclosed quote?)`);
        // csv-parse cannot go on after a broken record (an unclosed quote): say where, stop
        if (failure !== undefined) {
            yield broken();
            return;
        }
    }
    if (start !== undefined && start.length > 0) feed(start);
    await new Promise<void>((resolve) => {
        // a parser that failed already (its error can come after the last write) will neither finish nor fail again
        if (failure !== undefined || parser.destroyed) return resolve();
        parser.once("finish", resolve);
        parser.once("error", () => resolve());
        parser.once("close", resolve);
        parser.end();
    });
    yield* parsed();
    if (failure !== undefined) yield broken();
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
