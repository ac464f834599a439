import type { SchemaElement } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import type { InputRow, ParquetColumn } from "../input/inputRow.js";
import type { Output, OutputRow, RowWriter, WriterOptions } from "./formats.js";
import { ownNames, renameFields, type OwnNames } from "./ownNames.js";

/** A row group is written when it holds this many rows, or this many bytes of input text: memory holds one group. */
const groupRows = 5_000;
const groupBytes = 32 * 1024 * 1024;

type Column = ParquetColumn & {
    /** Whether a value can be written in this column; a value that cannot is written as null, with a warning. */
    fits: (value: unknown) => boolean;
    /** The value as the writer takes it (a JSON integer as BigInt for INT64). */
    convert?: (value: unknown) => unknown;
    /** Typed by a Parquet input's schema: rows read with that schema go in as they are, others are checked by `fits`. */
    schema?: true;
};

/** Whether a value can be written as JSON text (a list nested too deep cannot). */
function jsonable(value: unknown): boolean {
    try {
        JSON.stringify(value, (_, v: unknown) => (typeof v === "bigint" ? v.toString() : v));
        return true;
    } catch {
        return false;
    }
}

const optional = (name: string, element: Omit<SchemaElement, "name">): SchemaElement => ({ name, repetition_type: "OPTIONAL", ...element });
const scalars = {
    string: { element: { type: "BYTE_ARRAY", converted_type: "UTF8" }, fits: (v: unknown) => typeof v === "string" },
    boolean: { element: { type: "BOOLEAN" }, fits: (v: unknown) => typeof v === "boolean" },
    int32: { element: { type: "INT32" }, fits: (v: unknown) => Number.isInteger(v) && Math.abs(v as number) < 2 ** 31 },
    int64: { element: { type: "INT64" }, fits: (v: unknown) => typeof v === "bigint" || Number.isSafeInteger(v), convert: (v: unknown) => BigInt(v as number) },
    double: { element: { type: "DOUBLE" }, fits: (v: unknown) => typeof v === "number" },
    json: { element: { type: "BYTE_ARRAY", converted_type: "JSON" }, fits: jsonable },
} as const satisfies Record<string, { element: Omit<SchemaElement, "name">; fits: (v: unknown) => boolean; convert?: (v: unknown) => unknown }>;
type Scalar = keyof typeof scalars;

function scalarColumn(name: string, kind: Scalar): Column {
    const { element, fits, ...rest } = scalars[kind];
    return { name, elements: [optional(name, element)], fits: (v) => v === null || v === undefined || fits(v), ...rest };
}

/** A list of `kind` (the standard three-level LIST layout), as the reward lists of best-of-N rows. */
function listColumn(name: string, kind: Scalar): Column {
    const { element, fits } = scalars[kind];
    return {
        name,
        elements: [
            optional(name, { num_children: 1, converted_type: "LIST" }),
            { name: "list", repetition_type: "REPEATED", num_children: 1 },
            optional("element", element),
        ],
        fits: (v) => v === null || v === undefined || (Array.isArray(v) && v.every((item) => item === null || fits(item))),
    };
}

/** Added columns whose values are whole numbers, flags or text; the others (rewards, margins, z) are DOUBLE. */
const addedKinds: Record<string, Scalar> = {
    rank: "int32", best: "int32", preferred: "int32", n_tokens: "int32",
    truncated: "boolean", special_tokens_in_content: "boolean", error: "string", skipped: "string", dropped: "string", rendered: "string",
};

/** An added column: typed by its name, a list when its values are lists (best-of-N rewards). */
function addedColumn(name: string, samples: unknown[], kindOf = name): Column {
    const kind = addedKinds[kindOf] ?? "double";
    return samples.some(Array.isArray) ? listColumn(name, kind) : scalarColumn(name, kind);
}

/** A column of JSON or CSV input, typed by the values of the first row group. */
function inferredColumn(name: string, samples: unknown[]): Column {
    const values = samples.filter((v) => v !== null && v !== undefined);
    const all = (test: (v: unknown) => boolean) => values.length > 0 && values.every(test);
    const kind: Scalar = all(scalars.string.fits) ? "string" : all(scalars.boolean.fits) ? "boolean"
        : all(scalars.int64.fits) ? "int64" : all(scalars.double.fits) ? "double"
        : values.length === 0 ? "string" : "json";
    return scalarColumn(name, kind);
}

/**
 * A column of Parquet input, with its own schema; nullable, so that rows without a record (error rows) fit. Rows of
 * another format go in when their value is of the column's plain type (a string, a number, a flag); else null.
 */
function parquetColumn({ name, elements }: ParquetColumn): Column {
    const [top, ...rest] = elements;
    const nullable = [{ ...top!, repetition_type: top!.repetition_type === "REPEATED" ? "REPEATED" as const : "OPTIONAL" as const }, ...rest];
    const plain = rest.length === 0 && top!.logical_type === undefined ? top!.converted_type ?? top!.type : undefined;
    const kind: Scalar | undefined = plain === "UTF8" ? "string" : plain === "BOOLEAN" ? "boolean" : plain === "INT32" ? "int32"
        : plain === "INT64" ? "int64" : plain === "DOUBLE" || plain === "FLOAT" ? "double" : undefined;
    const checked = kind === undefined ? { fits: (v: unknown) => v === null || v === undefined } : scalarColumn(name, kind);
    return { ...checked, name, elements: nullable, schema: true };
}

/**
 * Parquet output (hyparquet-writer): the input columns with their own types (a Parquet input's schema as it is; JSON
 * and CSV columns typed from the first row group's values), then the added columns (reward DOUBLE, rank INT32, error
 * STRING, ...). Rows are buffered into row groups and each group's bytes are returned as soon as it is written.
 * A field without a column, or a value that does not fit its column's type, is written as null and reported once.
 */
export function parquetWriter({ added, warn }: WriterOptions): RowWriter {
    let columns: Column[] | undefined;
    let own: OwnNames | undefined;
    let writer: ParquetWriter | undefined;
    const bytes = new ByteWriter();
    let pending: OutputRow[] = [];
    let pendingBytes = 0;
    const reported = new Set<string>();
    // per Parquet input file: whether each output column has the same schema there (files of a folder may differ)
    const sameSchema = new WeakMap<readonly ParquetColumn[], Set<string>>();

    const report = (row: InputRow, name: string, why: string) => {
        if (reported.has(name)) return;
        reported.add(name);
        warn(`${row.source}:${row.line}: ${why}: written as null here and in any later row like it; --format jsonl keeps every field`);
    };
    const start = (rows: OutputRow[]): Column[] => {
        const first = rows.find((row) => row.input.record !== undefined);
        // and the fields only some rows have (special_tokens_in_content), when the first row group has them
        const names = [...new Set([...added(first?.input), ...rows.flatMap((row) => Object.keys(row.fields))])];
        let input: Column[];
        if (first?.input.columns !== undefined) {
            input = first.input.columns.map(parquetColumn);
        } else {
            const keys = [...new Set(rows.flatMap((row) => Object.keys(row.input.record ?? {})))];
            input = first === undefined ? [scalarColumn("line", "int64")] : keys.map((key) => inferredColumn(key, rows.map((row) => row.input.record?.[key])));
        }
        // an added field the input already has: in place when an earlier run added it (a scored file scored again),
        // else the input's is the user's, and the tool's goes in nemoreward_NAME (ownNames)
        own = ownNames(input.map((column) => column.name), names);
        const extra = names.filter((name) => !input.some((column) => column.name === own!.rename.get(name)));
        return [...input, ...extra.map((name) => addedColumn(own!.rename.get(name) ?? name, rows.map((row) => row.fields[name]), name))];
    };
    const value = (row: OutputRow, column: Column): unknown => {
        const { input, fields } = row;
        if (Object.hasOwn(fields, column.name)) return fields[column.name];
        if (input.record === undefined) return column.name === "line" ? input.line : null;
        if (!Object.hasOwn(input.record, column.name)) return null;
        if (column.schema && input.columns !== undefined && !sameColumns(input.columns).has(column.name)) {
            report(input, column.name, `column ${column.name} has another type here than in the first file`);
            return null;
        }
        return input.record[column.name];
    };
    const sameColumns = (inputColumns: readonly ParquetColumn[]): Set<string> => {
        let same = sameSchema.get(inputColumns);
        if (same === undefined) {
            const theirs = new Map(inputColumns.map((c) => [c.name, JSON.stringify(parquetColumn(c).elements)]));
            same = new Set(columns!.filter((c) => theirs.get(c.name) === JSON.stringify(c.elements)).map((c) => c.name));
            sameSchema.set(inputColumns, same);
        }
        return same;
    };
    const flush = (): Output => {
        if (pending.length === 0) return "";
        columns ??= start(pending);
        pending = pending.map((row) => ({ ...row, fields: renameFields(row.fields, own!) }));
        writer ??= new ParquetWriter({ writer: bytes, schema: schemaOf(columns), createdBy: "nemoreward" });
        const known = new Set(columns.map((c) => c.name));
        for (const row of pending) {
            for (const name of [...Object.keys(row.input.record ?? {}), ...Object.keys(row.fields)])
                if (!known.has(name) && row.fields[name] !== null) report(row.input, name, `the output has no column for ${name} (the columns come from the first row group)`);
        }
        const columnData = columns.map((column) => ({
            name: column.name,
            data: pending.map((row) => {
                const v = value(row, column);
                if ((column.schema && row.input.columns !== undefined) || column.fits(v)) return v === undefined || v === null ? null : column.convert?.(v) ?? v;
                report(row.input, column.name, `a value of ${column.name} cannot be written as the column's type (set by the first row group)`);
                return null;
            }),
        }));
        pending = [];
        pendingBytes = 0;
        void writer.write({ columnData, rowGroupSize: columnData[0]?.data.length ?? 0 });
        return take();
    };
    const take = (): Uint8Array => {
        const out = bytes.getBytes().slice();
        bytes.index = 0;
        return out;
    };
    return {
        row(out) {
            pending.push(out);
            pendingBytes += out.input.text.length;
            return pending.length >= groupRows || pendingBytes >= groupBytes ? flush() : "";
        },
        end() {
            const last = flush();
            columns ??= start([]);
            writer ??= new ParquetWriter({ writer: bytes, schema: schemaOf(columns), createdBy: "nemoreward" });
            void writer.finish();
            const tail = take();
            return typeof last === "string" ? tail : Buffer.concat([last, tail]);
        },
    };
}

function schemaOf(columns: Column[]): SchemaElement[] {
    return [{ name: "root", num_children: columns.length }, ...columns.flatMap((c) => c.elements)];
}
