import { quoteField, splitFields } from "../records/csvText.js";
import { fieldCell, isJsonRow, where, type InputRow } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import { ownNames, recordFits, renameFields, renameReporter, type OwnNames } from "../records/toolFields.js";
import { cellText, isValueProblem, type Fields, type Value } from "../records/values.js";
import { droppedOf, type Encoder, type EncoderOptions } from "./encoder.js";

/** Rows without a record held back while waiting for one that shows the columns; past this many, the columns are `line`. */
const maxHeld = 1000;

/**
 * CSV/TSV output. The header is the columns of the first row that has a record (or of its file's header), then the
 * tool's columns (toolFields.ts; `error` last); rows before it that hold no record wait for it. Rows read under that
 * same header keep their original text byte for byte; other rows are laid out by column name, each value as its
 * exact text; a row with a field that has no column is an error row. An output of no rows is the header alone: the first
 * input's columns (a header-only CSV, a Parquet file of no rows) and the tool's.
 */
export function delimitedEncoder(delimiter: "," | "\t", { layoutOf, warn, onError, sources, continuing }: EncoderOptions): Encoder {
    let columns: string[] | undefined;
    let added: string[] = [];
    let head = "";
    let eol = "\n";
    let held: OutRow[] = [];
    let provisional = false;
    const join = (values: readonly string[]) => values.map((v) => quoteField(v, delimiter)).join(delimiter);
    // output columns an earlier run of the tool added (a scored file scored again): their values are replaced in place
    let replaced: readonly string[] = [];
    let own: OwnNames = { rename: new Map(), ours: [] };
    const reportRenames = renameReporter(warn);

    const start = (input: InputRow | undefined, where: string) => {
        const header = input?.source.header;
        const names = input === undefined ? [] : header?.names ?? (input.record === undefined ? [] : Object.keys(input.record));
        // every field the tool may add is a column, whether or not a row has its value (toolFields.ts)
        const layout = layoutOf(input);
        // the first record's values tell whether its fields named like the tool's hold what the tool writes there
        const fits = input?.record === undefined ? undefined : recordFits(input.record, layout[0]?.name, input.source.format === "csv" || input.source.format === "tsv");
        const fromRow = ownNames(names, layout, { always: ["error"], fits });
        const rescoring = fromRow.ours.length > 0;
        own = continuing !== undefined ? ownNames(continuing.names, layout, { always: ["error"] }) : fromRow;
        reportRenames(own, where);
        added = layout.map((f) => own.rename.get(f.name)!);
        if (continuing !== undefined) return resume(continuing, rescoring);
        replaced = own.ours;
        added = added.filter((name) => !replaced.includes(name));
        if (header?.delimiter === delimiter) eol = header.eol;
        // the header is the user's as it came (`note,note` stays so: the reader's `note.1` only keys the cells), the
        // tool's columns an earlier run added in place, then the tool's new ones
        if (header?.delimiter === delimiter) {
            columns = header.names;
            head = `${header.text}${added.length > 0 ? `${delimiter}${join(added)}` : ""}${eol}`;
        } else {
            columns = input === undefined ? [] : header?.names ?? (input.record === undefined ? ["line"] : Object.keys(input.record));
            head = `${join([...(header === undefined ? columns : splitFields(header.text, header.delimiter)), ...added])}${eol}`;
        }
    };
    // a resumed file: its header says how the run before laid the rows out, whatever the next row looks like
    const resume = (file: { names: string[]; eol: string }, rescoring: boolean) => {
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
    /**
     * A row under the header. A field of its record, or a reward of the tool's, that has no column would be lost:
     * the row is then an error row that names it, with the values that have columns.
     */
    const line = (out: OutRow, columns: string[]): string => {
        const { input } = out;
        const record = input.record;
        const optional = new Set(layoutOf(input).filter((f) => f.optional).map((f) => f.name));
        const fields = renameFields(out.fields, own) as Record<string, Value>;
        const missing = [
            // a field of an earlier run of the tool (an error row's `error`, where the first row had none) goes in the
            // tool's column when this row carries the same value there
            ...Object.keys(record ?? {}).filter((name) => !columns.includes(name) && !(added.includes(name) && Object.is(fields[name], record![name]))),
            ...Object.keys(out.fields).filter((name) => out.fields[name] !== null && !optional.has(name) &&
                !added.includes(own.rename.get(name) ?? name) && !replaced.includes(own.rename.get(name) ?? name)),
        ];
        if (missing.length > 0) {
            const message = `the output has no column for ${missing.join(", ")} (its columns come from the first row with a record): ` +
                "write JSONL to keep every field, or give the rows the same fields";
            onError(input, message);
            // the tool's other fields stay empty: only `error`, which every header has, says why
            return line({ input: { ...input, record: record === undefined ? undefined : pick(record, columns) }, fields: { error: message, ...droppedOf(out.fields) } }, columns);
        }
        // each cell exactly, or the row is an error row naming the value a CSV cell cannot hold (a lone surrogate)
        const problems: string[] = [];
        const cell = (name: string, text: () => string) => {
            try {
                return text();
            } catch (error) {
                if (!isValueProblem(error)) throw error;
                problems.push(`column ${name}: ${error.message}`);
                return "";
            }
        };
        const tool = (name: string) => cell(name, () => cellText(fields[name] ?? null));
        const header = input.source.header;
        let text: string;
        if (header?.delimiter === delimiter && sameNames(header.names, columns) && replaced.length === 0 &&
            (record !== undefined || splitFields(input.text, delimiter).length === columns.length)) {
            text = input.text;
        } else if (record === undefined) {
            text = join(columns.map((c) => (replaced.includes(c) ? tool(c) : c === "line" ? String(input.line) : "")));
        } else {
            text = join(columns.map((c) => (replaced.includes(c) ? tool(c) : Object.hasOwn(record, c) ? cell(c, () => fieldCell(input, c)) : "")));
        }
        const extra = join(added.map(tool));
        if (problems.length > 0) {
            const message = problems.join("; ");
            onError(input, message);
            const written = Object.fromEntries(Object.entries(record ?? {}).filter(([name]) => !problems.some((p) => p.startsWith(`column ${name}: `))));
            // a JSON row keeps its text, so that the values written are still its own (1.0 stays 1.0); a CSV row is
            // laid out from the record, without the value it cannot hold
            return line({ input: { ...input, text: isJsonRow(input) ? input.text : "", record: record === undefined ? undefined : written }, fields: { error: message, ...droppedOf(out.fields) } }, columns);
        }
        return added.length === 0 ? `${text}${eol}` : `${text}${delimiter}${extra}${eol}`;
    };
    let waited = 0;
    return {
        see(input) {
            if (columns !== undefined) return;
            // a row with no record waits (also a CSV row under a header: the next file's rows may be the first records)
            if (input.record === undefined && ++waited <= maxHeld) return;
            start(input, where(input));
        },
        row(out) {
            if (columns === undefined) {
                if (out.input.record === undefined && held.length < maxHeld) {
                    held.push(out);
                    return "";
                }
                start(out.input, where(out.input));
            }
            const body = line(out, columns!);
            const text = `${head}${held.map((row) => line(row, columns!)).join("")}${body}`;
            head = "";
            held = [];
            return text;
        },
        end() {
            if (columns === undefined && held.length === 0) {
                // no row at all: the header alone, the first input's columns and the tool's
                const source = sources()[0];
                const names = source?.header?.names ?? source?.columns?.map((c) => c.name);
                const empty: InputRow | undefined = source === undefined || names === undefined ? undefined
                    : { source: source.header !== undefined ? source : { ...source, header: { names, text: join(names), delimiter, eol: "\n" } }, line: 1, text: "" };
                start(empty, source === undefined ? "the output" : `${source.name}:1`);
            } else if (columns === undefined) {
                // the rows so far hold no record: laid out under `line`, which a longer input would not give them
                start(held[0]!.input, where(held[0]!.input));
                provisional = true;
            }
            // the header of an output none of whose rows came (another shard's), or the rows held for the columns
            const text = `${head}${held.map((row) => line(row, columns!)).join("")}`;
            head = "";
            held = [];
            return text;
        },
        provisional: () => provisional,
    };
}

function sameNames(a: readonly string[], b: readonly string[]): boolean {
    return a === b || (a.length === b.length && a.every((name, i) => name === b[i]));
}

/** The record's fields that have a column. */
function pick(record: Fields, columns: readonly string[]): Fields {
    return Object.fromEntries(Object.entries(record).filter(([name]) => columns.includes(name)));
}
