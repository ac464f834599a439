import { Chalk } from "chalk";
import { parquetReadObjects } from "hyparquet";
import { parse } from "csv-parse/sync";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join as joinPath } from "node:path";
import { describe, expect, it } from "vitest";
import { columnTypes, duck } from "../duckdb.js";
import { createEncoder } from "../../src/encode/createEncoder.js";
import { endChunks, type Encoder, type EncoderOptions } from "../../src/encode/encoder.js";
import type { OutputFormat } from "../../src/formats.js";
import type { Chunk } from "../../src/outputs/outputs.js";
import type { InputRow, ParquetColumn, Source } from "../../src/records/row.js";
import { named, type Layout } from "../../src/records/toolFields.js";
import type { Fields, Value } from "../../src/records/values.js";

const layout: Layout = [{ name: "reward", kind: "double" }, named("error")];

function encoder(format: OutputFormat, extra: Partial<EncoderOptions> = {}) {
    const warnings: string[] = [], errors: string[] = [];
    const made = createEncoder(format, {
        layoutOf: () => layout, warn: (m) => warnings.push(m), onError: (row, m) => errors.push(`${row.source.name}:${row.line}: ${m}`),
        sources: () => [], color: new Chalk({ level: 0 }), width: 80, ...extra,
    });
    return { made, warnings, errors };
}

const join = (parts: Chunk[]): Buffer => Buffer.concat(parts.map((p) => Buffer.from(p)));
/** The rows' bytes, then the encoder's last bytes. */
const all = (parts: Chunk[], e: Encoder): Buffer => join([...parts, ...endChunks(e)]);
const read = async (bytes: Buffer) => parquetReadObjects({ file: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer });
const parquetSource = (columns: ParquetColumn[]): Source => ({ name: "in.parquet", format: "parquet", columns });
const row = (source: Source, line: number, record: Fields): InputRow => ({ source, line, text: "", record });

describe("a value a format cannot hold is never written as something else", () => {
    it.each<OutputFormat>(["jsonl", "json"])("%s: a NaN or an infinite double makes its row an error row that names the column; the rows after it are written", async (format) => {
        const { made, errors } = encoder(format);
        const e = await made;
        const source = parquetSource([]);
        const text = [
            e.row({ input: row(source, 1, { id: 1, score: 0.5 }), fields: { reward: 1 } }),
            e.row({ input: row(source, 2, { id: 2, score: NaN }), fields: { reward: 2 } }),
            e.row({ input: row(source, 3, { id: 3, score: -Infinity }), fields: { reward: 3 } }),
            e.row({ input: row(source, 4, { id: 4, score: 2.5 }), fields: { reward: 4 } }),
        ].join("") + e.end();
        const rows = format === "json" ? JSON.parse(text) as Record<string, unknown>[] : text.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
        expect(rows.map((r) => [r["id"], r["score"], r["reward"]])).toEqual([[1, 0.5, 1], [2, null, null], [3, null, null], [4, 2.5, 4]]);
        expect(rows[1]!["error"]).toBe("column score: NaN cannot be written as JSON");
        expect(errors).toEqual(["in.parquet:2: column score: NaN cannot be written as JSON", "in.parquet:3: column score: -Infinity cannot be written as JSON"]);
    });

    it("CSV writes NaN and Infinity as their names, which pandas and DuckDB read back as the same doubles", async () => {
        const { made, errors } = encoder("csv");
        const e = await made;
        const source = parquetSource([]);
        const text = e.row({ input: row(source, 1, { a: NaN, b: Infinity, c: -0.1 }), fields: { reward: 1 } }) + e.end();
        expect(parse(text, { columns: true })).toEqual([{ a: "NaN", b: "Infinity", c: "-0.1", reward: "1", error: "" }]);
        expect(errors).toEqual([]);
    });
});

describe("JSON encoder", () => {
    it("a whole number where the reward field is, is the user's label: kept, and the tool's reward goes in nemoreward_reward", async () => {
        const { made, warnings } = encoder("jsonl");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const line = (text: string, fields: Fields) => e.row({ input: { source: jsonl, line: 1, text, record: JSON.parse(text) as Fields }, fields });
        expect(line('{"prompt": "p", "reward": 3}', { reward: -1.5 })).toBe('{"prompt": "p", "reward": 3,"nemoreward_reward":-1.5}\n');
        // a reward the tool wrote (a fraction) gets its new value in place
        expect(line('{"prompt": "p", "reward": -2.25}', { reward: -1.5 })).toBe('{"prompt": "p", "reward": -1.5}\n');
        expect(warnings).toEqual(['in.jsonl:1: the input has a field "reward" of its own, kept as it is; nemoreward\'s "reward" goes in "nemoreward_reward"']);
    });
});

describe("Parquet encoder", () => {
    const int64: ParquetColumn = { name: "id", elements: [{ name: "id", type: "INT64", repetition_type: "REQUIRED" }] };
    const text: ParquetColumn = { name: "prompt", elements: [{ name: "prompt", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }] };

    it("rows of another format (a mixed folder) go into the Parquet columns when their values fit exactly; a value that does not is its row's error", async () => {
        const { made, errors } = encoder("parquet", { parquetColumns: [int64, text] });
        const e = await made;
        const jsonl: Source = { name: "b.jsonl", format: "jsonl" };
        const parts = [
            e.row({ input: row(parquetSource([int64, text]), 1, { id: 1n, prompt: "p1" }), fields: { reward: 1 } }),
            e.row({ input: row(jsonl, 1, { id: 7, prompt: "p2" }), fields: { reward: 2 } }),
            e.row({ input: row(jsonl, 2, { id: 9007199254740993n, prompt: "p3" }), fields: { reward: 3 } }),
            e.row({ input: row(jsonl, 3, { id: "x", prompt: "p4" }), fields: { reward: 4 } }),
            e.row({ input: row(jsonl, 4, { id: 1.5, prompt: "p5" }), fields: { reward: 5 } }),
        ];
        const rows = await read(all(parts, e));
        expect(rows.map((r) => [r["id"], r["prompt"], r["reward"]])).toEqual([[1n, "p1", 1], [7n, "p2", 2], [9007199254740993n, "p3", 3], [null, "p4", null], [null, "p5", null]]);
        expect(rows[3]!["error"]).toBe('column id: "x" does not fit column id (INT64)');
        expect(errors).toEqual(['b.jsonl:3: column id: "x" does not fit column id (INT64)', "b.jsonl:4: column id: 1.5 does not fit column id (INT64)"]);
    });

    it("JSON rows: every row types the columns, not the first row group: a field first seen late, an integer column that meets a double, a value of another type", async () => {
        const { made, errors } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const first = 5000; // the first row group
        const parts = Array.from({ length: first }, (_, i) => e.row({ input: row(jsonl, i + 1, { id: i, score: 3 }), fields: { reward: 1 } }));
        parts.push(e.row({ input: row(jsonl, first + 1, { id: "x", score: 3.5, late: "y" }), fields: { reward: 2 } }));
        const rows = await read(all(parts, e));
        expect(rows).toHaveLength(first + 1);
        expect(rows[0]).toEqual({ id: 0, score: 3, late: null, reward: 1, error: null }); // id: JSON text (numbers and strings), read as JSON
        expect(rows.at(-1)).toEqual({ id: "x", score: 3.5, late: "y", reward: 2, error: null });
        expect(errors).toEqual([]);
    });

    it("a scored file whose rewards are all null, scored again: its reward and error columns are the tool's, replaced in place", async () => {
        const { made, warnings } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const parts = [1, 2].map((i) => e.row({ input: row(jsonl, i, { id: i, reward: null, error: "an earlier failure" }), fields: { reward: i / 2 } }));
        expect(await read(all(parts, e))).toEqual([{ id: 1n, reward: 0.5, error: null }, { id: 2n, reward: 1, error: null }]);
        expect(warnings).toEqual([]);
    });

    it("JSON rows: an object whose text gives a key twice (at any depth) is JSON text, both values kept; objects of one key set are structs", async () => {
        const { made } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const texts = ['{"meta": {"a": 1, "b": {"c": "x\\":", "c": 3}}, "ok": {"k": 1}}', '{"meta": {"a": 2, "b": {"c": 4}}, "ok": {"k": 2}}'];
        const parts = texts.map((text, i) => e.row({ input: { source: jsonl, line: i + 1, text, record: JSON.parse(text) as Fields }, fields: { reward: 1 } }));
        const file = joinPath(mkdtempSync(joinPath(tmpdir(), "nemoreward-encoders-")), "dup.parquet");
        writeFileSync(file, all(parts, e));
        expect(await columnTypes(file)).toMatchObject({ meta: "JSON", ok: "STRUCT(k BIGINT)" });
        expect(await duck(`SELECT meta::VARCHAR AS meta FROM '${file}'`)).toEqual([{ meta: '{"a": 1, "b": {"c": "x\\":", "c": 3}}' }, { meta: '{"a": 2, "b": {"c": 4}}' }]);
    });

    it("special_tokens_in_content has its column whether or not a row has it, also when the first to have it comes after the first row group", async () => {
        const flagged = [...layout.slice(0, 1), named("special_tokens_in_content"), named("error")];
        for (const late of [true, false]) {
            // Parquet input: its columns are known before any row, and row groups are written as they fill
            const { made } = encoder("parquet", { layoutOf: () => flagged, parquetColumns: [int64], typedInputs: true });
            const e = await made;
            const source = parquetSource([int64]);
            const parts = Array.from({ length: 5001 }, (_, i) =>
                e.row({ input: row(source, i + 1, { id: BigInt(i) }), fields: { reward: 1, ...(late && i === 5000 ? { special_tokens_in_content: true } : {}) } }));
            const rows = await read(all(parts, e));
            expect(Object.keys(rows[0]!)).toEqual(["id", "reward", "special_tokens_in_content", "error"]);
            expect(rows.filter((r) => r["special_tokens_in_content"] !== null).map((r) => r["id"])).toEqual(late ? [5000n] : []);
        }
    });

    it("a field of the input named like one of the tool's is the user's: the tool's goes in nemoreward_NAME", async () => {
        const { made } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const parts = [
            e.row({ input: row(jsonl, 1, { id: 1, error: "mine" }), fields: { reward: 1 } }),
            e.row({ input: row(jsonl, 2, { id: 2, error: "x" }), fields: { reward: null, error: "boom" } }),
        ];
        const rows = await read(all(parts, e));
        expect(rows).toEqual([
            { id: 1n, error: "mine", reward: 1, nemoreward_error: null },
            { id: 2n, error: "x", reward: null, nemoreward_error: "boom" },
        ]);
    });

    it("an input column typed otherwise than the tool types it is the user's, also when it is named reward: an INT64 reward is kept", async () => {
        const reward: ParquetColumn = { name: "reward", elements: [{ name: "reward", type: "INT64", repetition_type: "OPTIONAL" }] };
        const error: ParquetColumn = { name: "error", elements: [{ name: "error", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }] };
        const { made, errors } = encoder("parquet", { parquetColumns: [text, reward, error] });
        const e = await made;
        const source = parquetSource([text, reward, error]);
        const rows = await read(all([e.row({ input: row(source, 1, { prompt: "p", reward: 4n, error: null }), fields: { reward: -1.5 } })], e));
        expect(rows).toEqual([{ prompt: "p", reward: 4n, error: null, nemoreward_reward: -1.5, nemoreward_error: null }]);
        expect(errors).toEqual([]);
    });

    it("an output of no rows has the columns of the Parquet inputs, and the tool's", async () => {
        const { made } = encoder("parquet", { parquetColumns: [int64, text] });
        const rows = await read(all([], await made));
        expect(rows).toEqual([]);
        const { parquetMetadata, parquetSchema } = await import("hyparquet");
        const bytes = all([], await encoder("parquet", { parquetColumns: [int64, text] }).made);
        const schema = parquetSchema(parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer));
        expect(schema.children.map((c) => c.element.name)).toEqual(["id", "prompt", "reward", "error"]);
    });
});

export type { Value };
