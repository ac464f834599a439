import { Chalk } from "chalk";
import { parquetReadObjects } from "hyparquet";
import { describe, expect, it } from "vitest";
import { createRowWriter, joinOutput, type Output } from "../../src/output/formats.js";
import type { InputRow } from "../../src/input/inputRow.js";

const read = async (bytes: Output) => {
    const buffer = Buffer.from(bytes);
    return parquetReadObjects({ file: buffer.buffer.slice(buffer.byteOffset, buffer.byteOffset + buffer.byteLength) });
};

describe("Parquet writer", () => {
    it("a value too deep to write becomes null with one warning; every other row of its row group is written", async () => {
        const warnings: string[] = [];
        const writer = createRowWriter("parquet", { added: () => ["reward", "error"], warn: (m) => warnings.push(m), color: new Chalk({ level: 0 }), width: 80 });
        let deep: unknown = [];
        for (let i = 0; i < 200_000; i++) deep = [deep];
        const row = (line: number, meta: unknown): InputRow => ({ source: "in.jsonl", line, format: "jsonl", text: "", record: { id: line, meta } });
        const parts = [
            writer.row({ input: row(1, { a: 1 }), fields: { reward: 1 } }),
            writer.row({ input: row(2, deep), fields: { reward: 2 } }),
            writer.row({ input: row(3, [3]), fields: { reward: 3 } }),
        ];
        const rows = await read(joinOutput([...parts, writer.end()]));
        expect(rows.map((r) => [r["id"], r["meta"], r["reward"]])).toEqual([[1n, { a: 1 }, 1], [2n, null, 2], [3n, [3], 3]]);
        expect(warnings).toEqual([expect.stringMatching(/^in\.jsonl:2: a value of meta cannot be written/)]);
    });

    it("rows of another format or Parquet schema (a mixed folder) keep the values that fit the first file's columns; the others are null, reported", async () => {
        const warnings: string[] = [];
        const writer = createRowWriter("parquet", { added: () => ["reward", "error"], warn: (m) => warnings.push(m), color: new Chalk({ level: 0 }), width: 80 });
        const columns = [
            { name: "id", elements: [{ name: "id", type: "INT64" as const, repetition_type: "REQUIRED" as const }] },
            { name: "prompt", elements: [{ name: "prompt", type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const, repetition_type: "OPTIONAL" as const }] },
        ];
        const otherColumns = [{ name: "id", elements: [{ name: "id", type: "BYTE_ARRAY" as const, converted_type: "UTF8" as const, repetition_type: "OPTIONAL" as const }] }, columns[1]!];
        const parts = [
            writer.row({ input: { source: "a.parquet", line: 1, format: "parquet", text: "", record: { id: 1n, prompt: "p1" }, columns }, fields: { reward: 1 } }),
            writer.row({ input: { source: "b.jsonl", line: 1, format: "jsonl", text: "", record: { id: 7, prompt: "p2" } }, fields: { reward: 2 } }),
            writer.row({ input: { source: "c.jsonl", line: 1, format: "jsonl", text: "", record: { id: "x", prompt: "p3" } }, fields: { reward: 3 } }),
            writer.row({ input: { source: "d.parquet", line: 1, format: "parquet", text: "", record: { id: "y", prompt: "p4" }, columns: otherColumns }, fields: { reward: 4 } }),
        ];
        const rows = await read(joinOutput([...parts, writer.end()]));
        expect(rows.map((r) => [r["id"], r["prompt"], r["reward"]])).toEqual([[1n, "p1", 1], [7n, "p2", 2], [null, "p3", 3], [null, "p4", 4]]);
        expect(warnings).toEqual([expect.stringMatching(/^c\.jsonl:1: a value of id cannot be written/)]);
    });

    it("a field only some rows of the first row group have (special_tokens_in_content) gets its own column", async () => {
        const writer = createRowWriter("parquet", { added: () => ["reward", "error"], warn: () => undefined, color: new Chalk({ level: 0 }), width: 80 });
        const row = (line: number): InputRow => ({ source: "in.jsonl", line, format: "jsonl", text: "", record: { id: line } });
        const parts = [
            writer.row({ input: row(1), fields: { reward: 1, special_tokens_in_content: true } }),
            writer.row({ input: row(2), fields: { reward: 2 } }),
        ];
        const rows = await read(joinOutput([...parts, writer.end()]));
        expect(rows.map((r) => r["special_tokens_in_content"])).toEqual([true, null]);
    });

    it("a field of the input named like one of the tool's is the user's: the tool's goes in nemoreward_NAME", async () => {
        const writer = createRowWriter("parquet", { added: () => ["reward", "error"], warn: () => undefined, color: new Chalk({ level: 0 }), width: 80 });
        const row = (line: number, error: string): InputRow => ({ source: "in.jsonl", line, format: "jsonl", text: "", record: { id: line, error } });
        const parts = [
            writer.row({ input: row(1, "mine"), fields: { reward: 1 } }),
            writer.row({ input: row(2, "x"), fields: { reward: null, error: "boom" } }),
        ];
        const rows = await read(joinOutput([...parts, writer.end()]));
        expect(rows).toEqual([
            { id: 1n, error: "mine", reward: 1, nemoreward_error: null },
            { id: 2n, error: "x", reward: null, nemoreward_error: "boom" },
        ]);
    });
});
