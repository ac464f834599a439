import type { ChalkInstance } from "chalk";
import type { Chunk } from "../outputs/outputs.js";
import type { InputRow, ParquetColumn, Source } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import type { Layout } from "../records/toolFields.js";
import type { Fields } from "../records/values.js";
import type { FileMetaData } from "hyparquet";
import type { Observed } from "./parquet.js";

/**
 * Turns rows into the bytes of one format, as they come; `end` closes what the format needs closed (a JSON array's
 * bracket, Parquet's footer, the header of an output of no rows). An encoder writes each value exactly (values.ts),
 * or, when the format cannot hold one (NaN in JSON), writes the row as an error row that says why.
 */
export type Encoder = {
    row(out: OutRow): Chunk;
    /** The last bytes; Parquet's rows that waited on disk for their columns' types come a row group at a time. */
    end(): Chunk | Iterable<Uint8Array>;
    /**
     * Every input row, in input order, as it is read, whether or not it is written here (another shard's row, a row
     * a filter drops): CSV/TSV take their columns from the input's first row with a record, so that every shard of
     * one input, and every run of it, has the same header.
     */
    see?(input: InputRow): void;
    /**
     * After `end`: the rows it wrote stand under columns no record gave (CSV/TSV whose rows so far hold no record,
     * written under `line`): a longer input would give other columns, so a resumed run must write them again.
     */
    provisional?(): boolean;
};

export type EncoderOptions = {
    /** The tool's fields a row like this one gains, in order (no row: a single conversation's). */
    layoutOf: (row: InputRow | undefined) => Layout;
    /** Notices that lose nothing: a field of the tool's renamed, a field without a column. */
    warn: (message: string) => void;
    /** A row whose value this format cannot hold: it was written as an error row; the run counts it. */
    onError: (row: InputRow, message: string) => void;
    /** The sources read so far: an output of no rows still gets their columns. */
    sources: () => readonly Source[];
    /** Parquet output: the columns of the Parquet inputs, by name (their types agree; the plan checked). */
    parquetColumns?: readonly ParquetColumn[];
    /** Parquet output: every input is a Parquet file, whose columns (`parquetColumns`) are known before any row. */
    typedInputs?: boolean;
    /**
     * Parquet output: what every input row shows of its columns, from a first reading of the input files, so that rows
     * are written as they come (else, when every input is not Parquet, they wait on disk for the last one).
     */
    observed?: Observed;
    /**
     * Parquet output kept with records (--resume, --shard; `observed` given, so that every run and shard of one input
     * writes the same columns): each row group is written with a footer of all the groups so far, so that the file is
     * whole after every group, and a resumed run continues it.
     */
    resumable?: boolean;
    /** Parquet output being resumed: where its recorded rows end (after a footer), and that footer. */
    continuingParquet?: { end: number; metadata: FileMetaData };
    /**
     * Parquet output of rows that hold the tool's fields an earlier run wrote, given no new values (merge): the tool's
     * columns take the rows' own values.
     */
    carried?: boolean;
    /** CSV/TSV: the header of the file being continued (a resumed run), which fixes its columns. */
    continuing?: { names: string[]; eol: string };
    color: ChalkInstance;
    /** Terminal width, for `table`. */
    width: number;
};

/** The row as an error row: every field of the tool's empty, and `error` saying why. */
export function asErrorRow(out: OutRow, layout: Layout, message: string): OutRow {
    const fields: Fields = Object.fromEntries(layout.filter((f) => !f.optional).map((f) => [f.name, null]));
    return { ...out, fields: { ...fields, error: message, ...droppedOf(out.fields) } };
}

/** A reject keeps why it was dropped beside why it could not be written: its `dropped` field, if it has one. */
export function droppedOf(fields: Fields): Fields {
    return fields["dropped"] == null ? {} : { dropped: fields["dropped"] };
}

/** What an encoder's `end` gives, a piece at a time. */
export function* endChunks(encoder: Encoder): Iterable<Chunk> {
    const end = encoder.end();
    if (typeof end === "string" || end instanceof Uint8Array) yield end;
    else yield* end;
}
