import type { ChalkInstance } from "chalk";
import stringWidth from "string-width";
import type { DelimitedHeader, InputRow } from "../input/inputRow.js";
import type { ScoringTask } from "../conversation/scoringTask.js";
import { jsonlLine } from "./jsonl.js";
import { delimitedWriter, type FileHeader } from "./delimited.js";
import { ownNames, renameFields, renameReporter } from "./ownNames.js";
import { parquetWriter } from "./parquet.js";

export type OutputFormat = "jsonl" | "csv" | "tsv" | "json" | "table" | "parquet";
export const outputFormats: readonly OutputFormat[] = ["jsonl", "csv", "tsv", "json", "table", "parquet"];

/** What a writer hands the sink: text, or bytes for a binary format (Parquet). */
export type Output = string | Uint8Array;

/** Outputs one after the other, as one. */
export function joinOutput(parts: readonly Output[]): Output {
    if (parts.every((part) => typeof part === "string")) return parts.join("");
    return Buffer.concat(parts.map((part) => (typeof part === "string" ? Buffer.from(part) : part)));
}

/** One finished row: the input, the fields the command adds (`reward`, `error`, ...) and the task if it was read. */
export type OutputRow = { input: InputRow; fields: Record<string, unknown>; task?: ScoringTask };

/**
 * Turns rows into output (text, or bytes for Parquet) as they come; `end` closes what the format needs closed, and is
 * given the input's header (a CSV/TSV header-only file) so that an output of no rows still has its columns.
 */
export type RowWriter = { row(out: OutputRow): Output; end(inputHeader?: DelimitedHeader): Output };

export type WriterOptions = {
    /** The fields a row like this one gains (no row: any), in column order; CSV/TSV always write all of them. */
    added: (input: InputRow | undefined) => readonly string[];
    /** Tells stderr about a row that could not be written as it is. */
    warn: (message: string) => void;
    color: ChalkInstance;
    /** Terminal width for `table`. */
    width: number;
    /** The header of the output being continued (a resumed CSV/TSV run), which fixes its columns. */
    continuing?: FileHeader;
};

/** A record's line with the tool's fields under their own names beside the record's (ownNames). */
function jsonLines({ added, warn }: WriterOptions): (input: InputRow, fields: Record<string, unknown>) => string {
    const report = renameReporter(warn);
    return (input, fields) => {
        if (input.record === undefined) return jsonlLine(input, fields);
        const own = ownNames(Object.keys(input.record), added(input));
        report(own, `${input.source}:${input.line}`);
        return jsonlLine(input, renameFields(fields, own));
    };
}

const writers: Record<OutputFormat, (options: WriterOptions) => RowWriter> = {
    jsonl: (options) => {
        const line = jsonLines(options);
        return { row: ({ input, fields }) => `${line(input, fields)}\n`, end: () => "" };
    },
    json: (options) => {
        const jsonLine = jsonLines(options);
        let count = 0;
        return {
            row: ({ input, fields }) => {
                const line = jsonLine(input, fields);
                return `${count++ === 0 ? "[\n" : ",\n"}${line}`;
            },
            end: () => (count === 0 ? "[]\n" : "\n]\n"),
        };
    },
    csv: ({ added, warn, continuing }) => {
        const writer = delimitedWriter(",", added, warn, continuing);
        return { row: ({ input, fields }) => writer.row(input, fields), end: writer.end };
    },
    tsv: ({ added, warn, continuing }) => {
        const writer = delimitedWriter("\t", added, warn, continuing);
        return { row: ({ input, fields }) => writer.row(input, fields), end: writer.end };
    },
    table: tableWriter,
    parquet: parquetWriter,
};

export function createRowWriter(format: OutputFormat, options: WriterOptions): RowWriter {
    const writer = writers[format](options);
    return {
        row(out) {
            try {
                return writer.row(out);
            } catch (error) {
                // a record too large or too deep to write is that row's error; the rows after it are still written
                if (!(error instanceof RangeError)) throw error;
                const message = `cannot write this row: ${error.message}`;
                options.warn(`${out.input.source}:${out.input.line}: ${message}`);
                const empty = Object.fromEntries(Object.keys(out.fields).map((name) => [name, null]));
                return writer.row({ input: { ...out.input, record: undefined, header: undefined }, fields: { ...empty, error: message } });
            }
        },
        end: (inputHeader) => writer.end(inputHeader),
    };
}

/** The format an output file's name asks for, if it names one. */
export function formatOfPath(path: string): OutputFormat | undefined {
    const extension = /\.([a-z]+)$/i.exec(path)?.[1]?.toLowerCase();
    if (extension === "ndjson") return "jsonl";
    if (extension === "txt") return "table";
    return outputFormats.find((f) => f === extension);
}

const characters = new Intl.Segmenter();

/** A view for people: line, value, and the end of the prompt and response, cut to the terminal's width. */
function tableWriter({ added, color, width }: WriterOptions): RowWriter {
    const textWidth = Math.max(20, width - 22);
    const flat = (s: string) => s.replace(/\s+/g, " ").trim();
    // by display width: a CJK character takes two columns
    const cut = (s: string, n: number) => {
        const whole = stringWidth(s);
        if (whole <= n) return s + " ".repeat(n - whole);
        let kept = "", used = 0;
        for (const { segment } of characters.segment(s)) {
            if (used + stringWidth(segment) > n - 1) break;
            kept += segment;
            used += stringWidth(segment);
        }
        return `${kept}…${" ".repeat(n - 1 - used)}`;
    };
    let valueField: string | undefined;
    return {
        row({ input, fields, task }) {
            const conversation = task?.conversations[0];
            const first = valueField === undefined;
            valueField ??= added(input)[0] ?? "reward";
            const header = first ? color.bold(`${"line".padStart(7)}  ${valueField.padStart(10)}  conversation\n`) : "";
            const value = fields[valueField] ?? Object.values(fields)[0];
            const shown = typeof value === "number" ? color.cyan(value.toFixed(4).padStart(10)) : color.red("—".padStart(10));
            const last = conversation?.[conversation.length - 1]?.content ?? "";
            const prompt = conversation?.slice(0, -1).reverse().find((m) => m.role === "user")?.content ?? "";
            const half = Math.floor(textWidth / 2) - 2;
            const text = fields["error"] != null
                ? color.red(cut(String(fields["error"]), textWidth))
                : `${color.dim(cut(flat(prompt), half))} → ${cut(flat(last), half)}`;
            return `${header}${String(input.line).padStart(7)}  ${shown}  ${text}\n`;
        },
        end: () => "",
    };
}
