import { closeSync, openSync, readSync } from "node:fs";
import { parse } from "csv-parse/sync";
import { hasJsonText, type DelimitedHeader, type InputRow } from "../input/inputRow.js";
import { delimitedSyntax } from "../input/readDelimited.js";
import { oneLine, topLevelValues } from "./jsonl.js";
import { ownNames, renameFields, renameReporter, type OwnNames } from "./ownNames.js";

/**
 * One field. CSV: quoted as RFC 4180 wants when it holds a comma, a quote or a line break. TSV: a quote inside a value
 * is text, as nemoreward's reader takes it (so a TSV scored again stays as it was); a value holding a tab or a line
 * break, which plain TSV cannot hold, or starting with a quote, which the reader would take for quoting, is quoted
 * the CSV way.
 */
export function quoteField(value: string, delimiter: string): string {
    const needs = delimiter === "\t" ? /[\t\r\n]|^"/ : /[",\r\n]/;
    return needs.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

/** A value as a CSV/TSV cell's text: empty for null, JSON for numbers, lists and objects. */
export function cell(value: unknown): string {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
}

/** Rows without a record held back while waiting for one that shows the columns; past this many, the columns are `line`. */
const maxHeld = 1000;

type Row = { input: InputRow; fields: Record<string, unknown> };

/** The columns and line ending of a CSV/TSV file being continued (`--resume`). */
export type FileHeader = { names: string[]; eol: string };

/** The header of a CSV/TSV file nemoreward wrote, or undefined when it has none yet. */
export function readFileHeader(path: string, delimiter: string): FileHeader | undefined {
    const fd = openSync(path, "r");
    try {
        // read on until the header's line ends (or the file does): a header can be long
        for (let length = 1 << 16; ; length *= 4) {
            const bytes = Buffer.alloc(length);
            const read = readSync(fd, bytes, 0, length, 0);
            let first: { record: string[]; info: { bytes: number } } | undefined;
            try {
                [first] = parse(bytes.subarray(0, read), { ...delimitedSyntax(delimiter), to: 1, info: true }) as unknown as (typeof first)[];
            } catch (error) {
                if (read === length) continue; // cut inside a quoted name
                throw error;
            }
            if (first !== undefined && first.info.bytes >= read && read === length) continue;
            if (first === undefined) return undefined;
            const end = bytes.subarray(0, first.info.bytes);
            return { names: first.record, eol: end.at(-2) === 0x0d && end.at(-1) === 0x0a ? "\r\n" : "\n" };
        }
    } finally {
        closeSync(fd);
    }
}

/**
 * CSV/TSV output. The header is the columns of the first row that has a record (or a CSV header), then the added
 * columns; rows before it that hold no record wait for it. Rows read under that same header keep their original
 * text byte for byte; other rows are laid out by column name, and a field with no column is reported once.
 */
export function delimitedWriter(
    delimiter: string,
    addedFor: (input: InputRow | undefined) => readonly string[],
    warn: (message: string) => void,
    continuing?: FileHeader,
) {
    let columns: string[] | undefined;
    let added: readonly string[] = [];
    let head = "";
    let eol = "\n";
    let held: Row[] = [];
    const reported = new Set<string>();
    const join = (values: readonly unknown[]) => values.map((v) => quoteField(cell(v), delimiter)).join(delimiter);
    // output columns the input already has (a scored file scored again): their values are replaced in place
    let replaced: readonly string[] = [];
    // the names the tool's columns get beside the input's own (ownNames)
    let own: OwnNames = ownNames([], []);
    const reportRenames = renameReporter(warn);
    const start = (input: InputRow | undefined) => {
        const header = input?.header;
        const names = header?.names ?? (input?.record === undefined ? [] : Object.keys(input.record));
        const rescoring = ownNames(names, addedFor(input)).ours.length > 0;
        own = ownNames(continuing?.names ?? names, addedFor(input));
        reportRenames(own, input === undefined ? "the output" : `${input.source}:${input.line}`);
        added = addedFor(input).map((name) => own.rename.get(name)!);
        if (continuing !== undefined) return resume(continuing, rescoring);
        replaced = own.ours;
        added = added.filter((name) => !replaced.includes(name));
        if (header?.delimiter === delimiter) eol = header.eol;
        if (header?.delimiter === delimiter && replaced.length === 0) {
            columns = header.names;
            eol = header.eol;
            head = `${header.text}${delimiter}${join(added)}${eol}`;
        } else {
            columns = header?.names ?? (input === undefined ? [] : input.record === undefined ? ["line"] : Object.keys(input.record));
            head = `${join([...columns, ...added])}${eol}`;
        }
    };
    // a resumed file: its header says how the run before laid the rows out, whatever the next row looks like
    const resume = (file: FileHeader, rescoring: boolean) => {
        eol = file.eol;
        const tail = file.names.slice(-added.length);
        if (!rescoring && added.length > 0 && sameNames(tail, added)) {
            columns = file.names.slice(0, -added.length);
            replaced = [];
        } else {
            columns = file.names;
            replaced = own.ours;
            added = added.filter((name) => !replaced.includes(name));
        }
    };
    const line = ({ input, fields: given }: Row, columns: string[]): string => {
        const fields = renameFields(given, own);
        const unwritten = Object.keys(fields).filter((name) => fields[name] !== null && fields[name] !== undefined &&
            !added.includes(name) && !replaced.includes(name));
        const extra = join(added.map((name) => fields[name]));
        const record = input.record;
        let text: string;
        if (input.header?.delimiter === delimiter && sameNames(input.header.names, columns) && replaced.length === 0 &&
            (record !== undefined || fieldCount(input.text, delimiter) === columns.length)) {
            text = input.text;
        } else if (record === undefined) {
            text = join(columns.map((c) => (replaced.includes(c) ? fields[c] : c === "line" ? input.line : "")));
        } else {
            unwritten.unshift(...Object.keys(record).filter((name) => !columns.includes(name)));
            const texts = jsonTexts(input);
            text = join(columns.map((c) => (replaced.includes(c) ? fields[c] : texts?.get(c) ?? record[c])));
        }
        const unreported = unwritten.filter((name) => !reported.has(name));
        if (unreported.length > 0) {
            for (const name of unreported) reported.add(name);
            warn(`${input.source}:${input.line}: the output has no column for ${unreported.join(", ")} (the header comes from the first ` +
                `row with a record): left out here and in any later row; --format jsonl keeps every field`);
        }
        return added.length === 0 ? `${text}${eol}` : `${text}${delimiter}${extra}${eol}`;
    };
    return {
        row(input: InputRow, fields: Record<string, unknown>): string {
            if (columns === undefined) {
                if (input.record === undefined && input.header === undefined && held.length < maxHeld) {
                    held.push({ input: { ...input, text: "" }, fields });
                    return "";
                }
                start(input);
            }
            const body = line({ input, fields }, columns!);
            const text = `${head}${held.map((row) => line(row, columns!)).join("")}${body}`;
            head = "";
            held = [];
            return text;
        },
        end(inputHeader?: DelimitedHeader): string {
            if (held.length === 0) {
                if (columns !== undefined) return "";
                // no row at all (an empty input, a header-only CSV): the header alone, the input's columns and ours
                start(inputHeader === undefined ? undefined : { source: inputHeader.source ?? "the input", line: 1, format: "csv", text: "", header: inputHeader });
                return head;
            }
            start(held[0]!.input);
            const text = `${head}${held.map((row) => line(row, columns!)).join("")}`;
            held = [];
            return text;
        },
    };
}

/** The number of fields in one CSV/TSV line as the readers take it; a ragged row's text cannot be copied under the header. */
function fieldCount(text: string, delimiter: string): number {
    try {
        const [record] = parse(text, delimitedSyntax(delimiter)) as string[][];
        return record?.length ?? 0;
    } catch {
        return -1;
    }
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
    return a === b || (a.length === b.length && a.every((name, i) => name === b[i]));
}

/** A JSON record's numbers and nested values as their own text, so that they are written as given, never re-serialized. */
function jsonTexts({ format, text, record }: InputRow): Map<string, string> | undefined {
    if (!hasJsonText(format) || Object.values(record!).every((v) => v === null || typeof v === "string")) return undefined;
    const values = topLevelValues(text).filter(({ key }) => typeof record![key] !== "string" && record![key] !== null);
    // a Parquet date or byte string has JSON string text: its cell is the string, as for any other string
    return new Map(values.map(({ key, start, end }) => {
        const value = oneLine(text.slice(start, end));
        return [key, value.startsWith('"') ? JSON.parse(value) as string : value];
    }));
}
