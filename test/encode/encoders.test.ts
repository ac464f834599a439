import { Chalk } from "chalk";
import { parquetReadObjects } from "hyparquet";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { createEncoder } from "../../src/encode/createEncoder.js";
import type { EncoderOptions } from "../../src/encode/encoder.js";
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
        const rows = await read(join([...parts, e.end()]));
        expect(rows.map((r) => [r["id"], r["prompt"], r["reward"]])).toEqual([[1n, "p1", 1], [7n, "p2", 2], [9007199254740993n, "p3", 3], [null, "p4", null], [null, "p5", null]]);
        expect(rows[3]!["error"]).toBe('column id: "x" does not fit column id (INT64)');
        expect(errors).toEqual(['b.jsonl:3: column id: "x" does not fit column id (INT64)', "b.jsonl:4: column id: 1.5 does not fit column id (INT64)"]);
    });

    it("a field first seen after the first row group makes its row an error row that names it; no value is dropped silently", async () => {
        const { made, errors } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const first = 5000; // the first row group: its rows set the columns
        const parts = Array.from({ length: first }, (_, i) => e.row({ input: row(jsonl, i + 1, { id: i }), fields: { reward: 1 } }));
        parts.push(e.row({ input: row(jsonl, first + 1, { id: first, late: "x" }), fields: { reward: 2 } }));
        const rows = await read(join([...parts, e.end()]));
        expect(rows).toHaveLength(first + 1);
        expect(rows.at(-1)).toMatchObject({ id: BigInt(first), reward: null, error: expect.stringMatching(/^the output has no column for late/) });
        expect(errors).toEqual([expect.stringMatching(/^in\.jsonl:5001: the output has no column for late/)]);
    });

    it("a field only some rows of the first row group have (special_tokens_in_content) gets its own column", async () => {
        const { made } = encoder("parquet", { layoutOf: () => [...layout.slice(0, 1), named("special_tokens_in_content"), named("error")] });
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const parts = [
            e.row({ input: row(jsonl, 1, { id: 1 }), fields: { reward: 1, special_tokens_in_content: true } }),
            e.row({ input: row(jsonl, 2, { id: 2 }), fields: { reward: 2 } }),
        ];
        const rows = await read(join([...parts, e.end()]));
        expect(rows.map((r) => r["special_tokens_in_content"])).toEqual([true, null]);
    });

    it("a field of the input named like one of the tool's is the user's: the tool's goes in nemoreward_NAME", async () => {
        const { made } = encoder("parquet");
        const e = await made;
        const jsonl: Source = { name: "in.jsonl", format: "jsonl" };
        const parts = [
            e.row({ input: row(jsonl, 1, { id: 1, error: "mine" }), fields: { reward: 1 } }),
            e.row({ input: row(jsonl, 2, { id: 2, error: "x" }), fields: { reward: null, error: "boom" } }),
        ];
        const rows = await read(join([...parts, e.end()]));
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
        const rows = await read(join([e.row({ input: row(source, 1, { prompt: "p", reward: 4n, error: null }), fields: { reward: -1.5 } }), e.end()]));
        expect(rows).toEqual([{ prompt: "p", reward: 4n, error: null, nemoreward_reward: -1.5, nemoreward_error: null }]);
        expect(errors).toEqual([]);
    });

    it("an output of no rows has the columns of the Parquet inputs, and the tool's", async () => {
        const { made } = encoder("parquet", { parquetColumns: [int64, text] });
        const rows = await read(join([(await made).end()]));
        expect(rows).toEqual([]);
        const { parquetMetadata, parquetSchema } = await import("hyparquet");
        const bytes = join([(await encoder("parquet", { parquetColumns: [int64, text] }).made).end()]);
        const schema = parquetSchema(parquetMetadata(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer));
        expect(schema.children.map((c) => c.element.name)).toEqual(["id", "prompt", "reward", "error"]);
    });
});

export type { Value };
