import { parquetSchema, type FileMetaData, type SchemaElement, type SchemaTree } from "hyparquet";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { writeIndexes } from "hyparquet-writer/src/indexes.js";
import { writeMetadata } from "hyparquet-writer/src/metadata.js";
import { UsageError } from "../errors.js";
import type { Chunk } from "../outputs/outputs.js";
import { physicalSchema, writeValue } from "../records/parquetValues.js";
import { fieldJson, isJsonRow, type InputRow, type ParquetColumn, type Source } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import { ownNames, recordFits, renameReporter, type FieldKind, type Layout, type OwnNames, type ToolField } from "../records/toolFields.js";
import { isFields, isValueProblem, JsonText, jsonText, type Fields, type Value } from "../records/values.js";
import { keyCount } from "../records/json.js";
import { batchBytes, sizeOf } from "../memory.js";
import { droppedOf, type Encoder, type EncoderOptions } from "./encoder.js";
import { shapeElements, shapeOf, widen, type Shape } from "./parquetShape.js";
import { Spill } from "./spill.js";

/** A row group is written when it holds this many rows, or its values about `batchBytes()`: memory holds one group. */
const groupRows = 5_000;

/** One output column: its schema (for the footer), its tree (for writing values), and where its values come from. */
type Column = {
    name: string;
    elements: SchemaElement[];
    tree: SchemaTree;
    /** The tool's field (by its own name) it holds, for the tool's columns. */
    tool?: string;
    /** A column typed JSON by nemoreward: a JSON row's value goes in as the text the row wrote. */
    json?: boolean;
    /** Whether hyparquet-writer's statistics, computed on physical values, order as the logical type does. */
    statistics: boolean;
    /**
     * PLAIN for a column with a FLOAT or DOUBLE leaf: hyparquet-writer's dictionary keys values with a JS Map, where -0
     * and 0 are one key, so a dictionary would write every 0 after a -0 as -0 (or every -0 after a 0 as 0).
     */
    encoding?: "PLAIN";
};

const optional = (name: string, element: Omit<SchemaElement, "name">): SchemaElement => ({ name, repetition_type: "OPTIONAL", ...element });
const scalars = {
    string: { type: "BYTE_ARRAY", converted_type: "UTF8" },
    json: { type: "BYTE_ARRAY", converted_type: "JSON" },
    boolean: { type: "BOOLEAN" },
    int32: { type: "INT32" },
    int64: { type: "INT64" },
    double: { type: "DOUBLE" },
} as const satisfies Record<string, Omit<SchemaElement, "name">>;
type Scalar = keyof typeof scalars;

const toolScalars: Record<string, Scalar> = { double: "double", integer: "int32", boolean: "boolean", string: "string" };

/** The elements of a tool's field of this kind: a scalar, or the standard three-level LIST of one. */
function toolElements(name: string, kind: FieldKind): SchemaElement[] {
    const list = kind.endsWith("s");
    const scalar = scalars[toolScalars[list ? kind.slice(0, -1) : kind]!];
    if (!list) return [optional(name, scalar)];
    return [optional(name, { num_children: 1, converted_type: "LIST" }), { name: "list", repetition_type: "REPEATED", num_children: 1 }, optional("element", scalar)];
}

function column(elements: SchemaElement[], extra: Partial<Column> = {}): Column {
    const [tree] = parquetSchema({ schema: [{ name: "root", num_children: 1 }, ...elements] } as FileMetaData).children;
    const floats = elements.some((e) => e.type === "DOUBLE" || e.type === "FLOAT");
    return { name: elements[0]!.name, elements, tree: tree!, statistics: elements.every(ordersAsLogical), ...(floats ? { encoding: "PLAIN" as const } : {}), ...extra };
}

/** The kind of tool field a column could hold, by its type: DOUBLE a double, INT32 an integer, ... a LIST of one, plural. */
function kindOf(tree: SchemaTree | undefined): FieldKind | undefined {
    if (tree === undefined) return undefined;
    const e = tree.element;
    if (tree.children.length === 0) {
        const integer = e.converted_type === undefined || e.converted_type === "INT_32";
        if (e.type === "DOUBLE" && e.logical_type === undefined) return "double";
        if (e.type === "INT32" && integer && (e.logical_type === undefined || (e.logical_type.type === "INTEGER" && e.logical_type.isSigned))) return "integer";
        if (e.type === "BOOLEAN") return "boolean";
        if (e.type === "BYTE_ARRAY" && (e.converted_type === "UTF8" || e.logical_type?.type === "STRING")) return "string";
        return undefined;
    }
    const repeated = e.converted_type === "LIST" && tree.children.length === 1 ? tree.children[0]! : undefined;
    const item = repeated?.children.length === 1 ? kindOf(repeated.children[0]) : undefined;
    return item !== undefined && !item.endsWith("s") ? `${item}s` as FieldKind : undefined;
}

/**
 * A column whose statistics hyparquet-writer computes right: not one of the tool's own ordering (unsigned, byte-array
 * decimals, halves, intervals), and not a decimal at all: the footer's logical type makes it scale the unscaled
 * statistics of an INT32/INT64 decimal again (10^scale too large: readers then skip the row groups that hold a value).
 */
function ordersAsLogical(e: SchemaElement): boolean {
    if (/^UINT_/.test(e.converted_type ?? "") || (e.logical_type?.type === "INTEGER" && !e.logical_type.isSigned)) return false;
    if (e.converted_type === "DECIMAL" || e.logical_type?.type === "DECIMAL") return false;
    return e.type !== "INT96" && e.converted_type !== "INTERVAL" && e.logical_type?.type !== "FLOAT16" && e.logical_type?.type !== "INTERVAL";
}

/** A Parquet input's column, as it is; nullable, so that rows without a record (error rows) fit. */
function inputColumn({ elements }: ParquetColumn): Column {
    const [top, ...rest] = elements;
    return column([{ ...top!, repetition_type: top!.repetition_type === "REPEATED" ? "REPEATED" : "OPTIONAL" }, ...rest]);
}

/**
 * What rows show of the columns they need: each JSON/CSV field's shape (its names in the order first seen, a CSV
 * file's header when its first row is), the tool's fields of every kind of row (`error` last), the first row with a
 * record.
 */
export class Observed {
    readonly names = new Set<string>();
    /** `names` in column order: first seen first, but a name a row gives before one already seen goes before it (x before reward). */
    readonly ordered: string[] = [];
    /**
     * The fields an earlier run of the tool wrote at the end of a row (ownNames' `ours`, row by row, as JSONL keeps
     * them): their columns follow the row's own, as that run's Parquet had them, typed as the tool types them.
     */
    readonly tail = new Set<string>();
    readonly shapes = new Map<string, Shape>();
    readonly tools: ToolField[] = [];
    first: InputRow | undefined;
    /** Rows seen. */
    rows = 0;
    private readonly headers = new Set<Source>();

    /** `carried`: the rows are the tool's own output (merge): a whole-number reward is the tool's too, not a label. */
    constructor(private readonly layoutOf: EncoderOptions["layoutOf"], private readonly carried = false) {}

    observe(input: InputRow): void {
        this.rows++;
        const header = input.source.header;
        if (header !== undefined && !this.headers.has(input.source)) {
            this.headers.add(input.source);
            this.place(header.names);
        }
        const record = input.record;
        if (record === undefined) return;
        this.first ??= input;
        const layout = this.layoutOf(input);
        if (input.source.format !== "parquet") {
            const text = input.source.format === "csv" || input.source.format === "tsv";
            const ours = ownNames(Object.keys(record), layout, { fits: recordFits(record, this.carried ? undefined : layout[0]?.name, text) }).ours;
            this.place(Object.keys(record).filter((name) => !ours.includes(name)));
            for (const name of Object.keys(record)) {
                if (ours.includes(name)) this.tail.add(name);
                let shape = shapeOf(record[name]!);
                // an object whose text gives a key twice: a struct would hold only its last value, JSON text holds both
                if (isJsonRow(input) && typeof record[name] === "object" && keyCount(fieldJson(input, name)) !== keysIn(record[name]!)) shape = { kind: "json" };
                this.shapes.set(name, widen(this.shapes.get(name), shape));
            }
        }
        // the first layout as it is (its first field is where ownNames looks for an earlier run's fields); another kind
        // of row's fields before `error` and `dropped`
        if (this.tools.length === 0) this.tools.push(...layout);
        for (const field of layout) {
            if (this.tools.some((f) => f.name === field.name)) continue;
            const last = this.tools.findIndex((f) => f.name === "error" || f.name === "dropped");
            this.tools.splice(last === -1 ? this.tools.length : last, 0, field);
        }
    }

    /** A row's names in column order: a new one before the first name after it in the row already placed, else last. */
    private place(row: readonly string[]): void {
        row.forEach((name, i) => {
            if (this.names.has(name)) return;
            this.names.add(name);
            const next = row.slice(i + 1).find((other) => this.names.has(other));
            this.ordered.splice(next === undefined ? this.ordered.length : this.ordered.indexOf(next), 0, name);
        });
    }
}

/** Whether the tool's column for a field of this kind holds every value of this shape exactly. */
function shapeFits(shape: Shape | undefined, kind: FieldKind): boolean {
    if (shape === undefined || shape.kind === "null") return true;
    if (kind === "double") return shape.kind === "double" || (shape.kind === "integer" && !shape.inexact && !shape.wide);
    if (kind === "integer") return shape.kind === "integer" && !shape.inexact && !shape.wide;
    if (kind === "boolean" || kind === "string") return shape.kind === kind;
    return false;
}

/** How many keys a value's objects hold, at every depth. */
function keysIn(value: Value): number {
    if (Array.isArray(value)) return value.reduce<number>((n, item) => n + keysIn(item), 0);
    if (!isFields(value)) return 0;
    return Object.values(value).reduce<number>((n, item) => n + 1 + keysIn(item), 0);
}

/** What the encoder keeps of a row while its output's columns are not known: its values go to disk (spill.ts). */
type Spilled = { source: number; line: number; text: string; record?: Fields; problem?: string; fields: Fields };

/**
 * Parquet output (hyparquet-writer, snappy): the input's columns with their own types (a Parquet input's schema as
 * it is; JSON and CSV columns typed by every row's values, parquetShape.ts), then the tool's columns (reward DOUBLE,
 * rank INT32, error STRING, ...; toolFields.ts). Each value is written exactly at its column's type (parquetValues.ts);
 * a row with a value its column cannot hold (a JSON row's field beside a Parquet input's column of another type), or
 * a field without a column, is an error row that says why. When the columns are known before the first row (every
 * input Parquet, or `observed` from a first reading of the input files), rows are written in row groups of at most
 * 5,000 rows and a sixty-fourth of the heap (memory.ts), each group's bytes returned as soon as it is written.
 * Otherwise (standard input, a pipe) the rows wait on disk (spill.ts) until the last one has shown every column's
 * type, and are then written group by group: memory holds one group either way.
 */
export function parquetEncoder({ layoutOf, warn, onError, sources, parquetColumns = [], typedInputs = false, observed, resumable = false, continuingParquet, carried = false }: EncoderOptions): Encoder {
    let columns: Column[] | undefined;
    let own: OwnNames | undefined;
    let writer: ParquetWriter | undefined;
    const bytes = new ByteWriter();
    let pending: OutRow[] = [];
    let pendingBytes = 0;
    const groupBytes = batchBytes();
    const reportRenames = renameReporter(warn);
    const seen = observed ?? new Observed(layoutOf, carried);
    const observe = (out: OutRow) => seen.observe(out.input);
    const observeInput = (input: InputRow) => seen.observe(input);
    const start = (): Column[] => {
        const cols = parquetColumns.map(inputColumn);
        // Parquet read from standard input: its columns are known once it is read
        for (const source of sources()) for (const c of source.columns ?? []) if (!cols.some((known) => known.name === c.name)) cols.push(inputColumn(c));
        const { names, ordered, tail, shapes, tools, first } = seen;
        // every field the tool may add, in every format: a column is there whether or not a row has its value
        const layout: Layout = tools.length > 0 ? tools : layoutOf(undefined);
        // then the header of a CSV file of no rows
        for (const name of new Set([...ordered, ...sources().flatMap((source) => source.header?.names ?? []), ...tail])) {
            if (cols.some((c) => c.name === name)) continue;
            const shape = shapes.get(name);
            const field = layout.find((f) => f.name === name.replace(/^(nemoreward_)+/, ""));
            // a field an earlier run of the tool wrote (never the row's own): its column is the tool's, made below, in
            // the place and of the type this run gives it
            if (field !== undefined && !names.has(name) && shapeFits(shape, field.kind)) continue;
            // a field only ever null that is named like one of the tool's (the rewards of a scored file whose rows all
            // failed): typed as the tool types it, which null fits as well as any type
            const tool = shape?.kind === "null" ? field : undefined;
            if (tool !== undefined) {
                cols.push(column(toolElements(name, tool.kind)));
                continue;
            }
            const { elements, json } = shapeElements(name, shape);
            cols.push(column(elements, json ? { json } : {}));
        }
        if (cols.length === 0 && seen.rows > 0 && first === undefined) cols.push(column([optional("line", scalars.int64)]));
        // a tool's field the input already has: in place when an earlier run of the tool wrote it (typed as the tool types
        // it), else the input's is the user's, and the tool's goes in nemoreward_NAME
        own = ownNames(cols.map((c) => c.name), layout, {
            always: ["error"],
            fits: (name, kind) => kindOf(cols.find((c) => c.name === name)?.tree) === kind,
        });
        reportRenames(own, first === undefined ? "the output" : first.source.name);
        for (const field of layout) {
            const name = own.rename.get(field.name)!;
            const existing = cols.find((c) => c.name === name);
            if (existing !== undefined) existing.tool = field.name;
            else cols.push(column(toolElements(name, field.kind), { tool: field.name }));
        }
        return cols;
    };

    /** A row's value for each column, exactly, or the row as an error row (its tool columns empty but `error`). */
    const values = (out: OutRow): unknown[] => {
        const { input, fields } = out;
        const record = input.record;
        const problems: string[] = [];
        const known = new Set(columns!.map((c) => c.name));
        const stray = Object.keys(record ?? {}).filter((name) => !known.has(name));
        const toolStray = Object.keys(fields).filter((name) => fields[name] !== null && !columns!.some((c) => c.tool === name));
        if (stray.length + toolStray.length > 0)
            problems.push(`the output has no column for ${[...stray, ...toolStray].join(", ")} (its columns come from the first row group): ` +
                "write JSONL to keep every field, or give the rows the same fields");
        const inputValues = columns!.map((c) => {
            if (c.tool !== undefined) return undefined;
            if (record === undefined) return c.name === "line" ? BigInt(input.line) : null;
            if (!Object.hasOwn(record, c.name)) return null;
            try {
                const value: Value = c.json ? new JsonText(isJsonRow(input) ? fieldJson(input, c.name) : jsonText(record[c.name]!)) : record[c.name]!;
                return writeValue(c.tree, value);
            } catch (error) {
                if (!isValueProblem(error)) throw error;
                problems.push(`column ${c.name}: ${error.message}`);
                return null;
            }
        });
        let tool: Fields = fields;
        if (problems.length > 0) {
            onError(input, problems.join("; "));
            tool = { error: problems.join("; "), ...droppedOf(fields) };
        }
        return columns!.map((c, j) => {
            if (c.tool === undefined) return inputValues[j];
            try {
                // merge: the value an earlier run wrote in the tool's column, as it is
                const kept = carried && !Object.hasOwn(tool, c.tool) && record !== undefined && Object.hasOwn(record, c.name) ? record[c.name] ?? null : undefined;
                return writeValue(c.tree, kept ?? tool[c.tool] ?? null);
            } catch (error) {
                if (!isValueProblem(error)) throw error;
                onError(input, `${c.tool}: ${error.message}`);
                return null;
            }
        });
    };

    const open = (): ParquetWriter => {
        if (writer !== undefined) return writer;
        writer = new ParquetWriter({ writer: bytes, schema: physicalSchema(schemaOf(columns!)), createdBy: "nemoreward" });
        if (continuingParquet !== undefined) {
            // a resumed file: its row groups stay, and the next ones follow them (the magic is there already)
            const { end, metadata } = continuingParquet;
            checkContinuing();
            bytes.index = 0;
            bytes.offset = end;
            writer.row_groups = metadata.row_groups;
            writer.num_rows = metadata.num_rows;
        }
        return writer;
    };
    const checkContinuing = () => {
        if (continuingParquet !== undefined && !sameSchema(continuingParquet.metadata.schema, schemaOf(columns!)))
            throw new UsageError("the Parquet output being resumed has other columns than this run gives (other column types, or other columns): " +
                "it was written from other input or settings; remove it and its .resume record to start over");
    };
    // a resumed file whose columns are known from a first reading of the input: checked now (before the model loads)
    if (continuingParquet !== undefined && observed !== undefined) {
        columns = start();
        checkContinuing();
    }
    const group = (rows: OutRow[]): Uint8Array => {
        const parquet = open();
        if (rows.length > 0) {
            const written = rows.map(values);
            const columnData = columns!.map((c, j) => ({ name: c.name, data: written.map((row) => row[j]), statistics: c.statistics, encoding: c.encoding }));
            void parquet.write({ columnData, rowGroupSize: rows.length });
            // resumable: each group ends in a footer of every group so far, so that the file is whole after any group
            if (resumable) interimFooter(parquet, bytes, schemaOf(columns!));
        }
        return take();
    };
    const flush = (): Chunk => {
        if (pending.length === 0) return "";
        if (columns === undefined) for (const row of pending) observe(row);
        columns ??= start();
        const rows = pending;
        pending = [];
        pendingBytes = 0;
        return group(rows);
    };
    const footer = (): Uint8Array => {
        const written = writer !== undefined;
        const parquet = open();
        // resumable: the last group's footer is the file's, unless there was none (no rows)
        if (resumable) {
            if (!written && continuingParquet === undefined) interimFooter(parquet, bytes, schemaOf(columns!));
            return take();
        }
        // the footer gets the columns' logical types; the pages were written from physical values
        parquet.schema = schemaOf(columns!);
        void parquet.finish();
        return take();
    };
    const take = (): Uint8Array => {
        const out = bytes.getBytes().slice();
        bytes.index = 0;
        return out;
    };

    if (!typedInputs && observed === undefined) {
        // the columns' types wait for the last row: the rows wait on disk
        const spill = new Spill();
        const seen: Source[] = [];
        // every input row, written here or not, types the columns (`see`), so that a run's outputs (its rows, its
        // rejects) have the same columns; an encoder not shown the input (pairs) is typed by the rows it writes
        let seeing = false;
        return {
            see(input) {
                seeing = true;
                observeInput(input);
            },
            row(out) {
                if (!seeing) observe(out);
                const { input } = out;
                let source = seen.indexOf(input.source);
                if (source === -1) source = seen.push(input.source) - 1;
                const entry: Spilled = { source, line: input.line, text: input.text, fields: out.fields,
                    ...(input.record !== undefined ? { record: input.record } : {}), ...(input.problem !== undefined ? { problem: input.problem } : {}) };
                spill.write(entry);
                return "";
            },
            *end() {
                try {
                    columns = start();
                    let rows: OutRow[] = [], size = 0;
                    for (const { entry, size: entrySize } of spill.read()) {
                        const { source, line, text, record, problem, fields } = entry as Spilled;
                        rows.push({ input: { source: seen[source]!, line, text, record, problem }, fields });
                        // a row's values take a few times their serialized size in memory
                        size += 4 * entrySize;
                        if (rows.length >= groupRows || size >= groupBytes) {
                            yield group(rows);
                            rows = [];
                            size = 0;
                        }
                    }
                    yield group(rows);
                    yield footer();
                } finally {
                    spill.close();
                }
            },
        };
    }
    return {
        row(out) {
            pending.push(out);
            pendingBytes += out.input.text.length > 0 ? 2 * out.input.text.length : sizeOf(out.input.record);
            return pending.length >= groupRows || pendingBytes >= groupBytes ? flush() : "";
        },
        end() {
            const last = flush();
            columns ??= start();
            const tail = footer();
            return typeof last === "string" ? tail : Buffer.concat([last, tail]);
        },
    };
}

/** Page indexes and a footer for the row groups written so far: the file is a whole Parquet file up to here. */
function interimFooter(writer: ParquetWriter, bytes: ByteWriter, schema: SchemaElement[]): void {
    writeIndexes(bytes, writer.pendingIndexes);
    writer.pendingIndexes = [];
    writeMetadata(bytes, { version: 2, created_by: "nemoreward", schema, num_rows: writer.num_rows, row_groups: writer.row_groups, metadata_length: 0 });
    bytes.appendUint32(0x31524150); // PAR1
}

/** Whether a file's schema is the one this run writes (names, types, nesting). */
function sameSchema(a: readonly SchemaElement[], b: readonly SchemaElement[]): boolean {
    const key = (e: SchemaElement) => JSON.stringify([e.name, e.type, e.type_length, e.repetition_type, e.num_children, e.converted_type, e.scale, e.precision]);
    return a.length === b.length && a.every((e, i) => key(e) === key(b[i]!) || i === 0);
}

function schemaOf(columns: Column[]): SchemaElement[] {
    return [{ name: "root", num_children: columns.length }, ...columns.flatMap((c) => c.elements)];
}
