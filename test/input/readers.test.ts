import { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { readInputs } from "../../src/input/openInput.js";
import type { InputFormat, InputRow } from "../../src/input/inputRow.js";

async function rows(text: string | Buffer, format: InputFormat, chunkSize = 7): Promise<InputRow[]> {
    const bytes = Buffer.from(text);
    // small chunks: records, strings and UTF-8 characters all get split across reads
    const chunks = Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
    const out: InputRow[] = [];
    for await (const row of readInputs({ paths: ["-"], stdin: Readable.from(chunks), format })) out.push(row);
    return out;
}

describe("JSONL", () => {
    it("skips blank lines, numbers lines from 1, strips a BOM and CRLF", async () => {
        const got = await rows('\uFEFF{"a":1}\r\n\r\n  \n{"a":"é"}\r\nnope\n', "jsonl");
        expect(got.map((r) => [r.line, r.record, r.parseError !== undefined])).toEqual([[1, { a: 1 }, false], [4, { a: "é" }, false], [5, undefined, true]]);
        expect(got[0]!.text).toBe('{"a":1}');
    });

    it("reads gzipped input transparently", async () => {
        const got = await rows(gzipSync('{"a":1}\n{"a":2}\n'), "jsonl");
        expect(got.map((r) => r.record)).toEqual([{ a: 1 }, { a: 2 }]);
    });
});

it("a 200 MB line becomes one error row without being held in memory; the next line is read", async () => {
    const megabyte = Buffer.alloc(1024 * 1024, 0x61);
    async function* huge() {
        yield Buffer.from('{"a": "');
        for (let i = 0; i < 200; i++) yield megabyte;
        yield Buffer.from('"}\n{"b": 2}\n');
    }
    const before = process.memoryUsage();
    const got: InputRow[] = [];
    for await (const row of readInputs({ paths: ["-"], stdin: Readable.from(huge()), format: "jsonl" })) got.push(row);
    const after = process.memoryUsage();
    expect(got.map((r) => [r.line, r.parseError ?? r.record])).toEqual([[1, "the line is over the 67108864-byte limit"], [2, { b: 2 }]]);
    expect(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers).toBeLessThan(100 * 1024 * 1024);
});

describe("JSON array", () => {
    it("yields items one by one, with brackets, commas and escapes inside strings, and each item's line", async () => {
        const text = '[\n  {"a": "x], {y", "b": [1, {"c": "\\"]"}]},\n  {"a": 2}\n]\n';
        const got = await rows(text, "json", 3);
        expect(got.map((r) => r.record)).toEqual([{ a: "x], {y", b: [1, { c: '"]' }] }, { a: 2 }]);
        expect(got.map((r) => r.line)).toEqual([2, 3]);
    });

    it("reads an empty array as no rows", async () => {
        expect(await rows(" [ ] ", "json")).toEqual([]);
    });

    it("turns non-object items and a cut-off array into error rows", async () => {
        const got = await rows('[{"a": 1}, 5, {"a": 2', "json");
        expect(got.map((r) => r.parseError ?? "ok")).toEqual(["ok", "not a JSON object", "the JSON array is cut off here"]);
    });

    it("reports a file that is not an array", async () => {
        const got = await rows('{"a": 1}', "json");
        expect(got).toHaveLength(1);
        expect(got[0]!.parseError).toMatch(/must hold an array/);
    });
});

describe("CSV and TSV", () => {
    it("parses quoted commas, quotes and newlines, a BOM and CRLF, keeping each record's raw text", async () => {
        const text = '\uFEFFprompt,response\r\n"Say ""hi"", twice","hi,\r\nhi"\r\nQ?,A.\r\n';
        const got = await rows(text, "csv");
        expect(got.map((r) => r.record)).toEqual([{ prompt: 'Say "hi", twice', response: "hi,\r\nhi" }, { prompt: "Q?", response: "A." }]);
        expect(got.map((r) => r.text)).toEqual(['"Say ""hi"", twice","hi,\r\nhi"', "Q?,A."]);
        expect(got.map((r) => r.line)).toEqual([2, 4]);
        expect(got[0]!.header).toEqual({ names: ["prompt", "response"], text: "prompt,response", delimiter: ",", eol: "\r\n" });
    });

    it("turns a ragged row into an error row and goes on", async () => {
        const got = await rows("a,b\n1,2\n3\n4,5,6\n7,8\n", "csv");
        expect(got.map((r) => r.parseError ?? r.record)).toEqual([
            { a: "1", b: "2" }, "expected 2 columns, found 1", "expected 2 columns, found 3", { a: "7", b: "8" },
        ]);
    });

    it("skips blank lines and still numbers lines as an editor does", async () => {
        const got = await rows("a,b\n\n1,2\n\r\n3,4\n", "csv");
        expect(got.map((r) => [r.line, r.record])).toEqual([[3, { a: "1", b: "2" }], [5, { a: "3", b: "4" }]]);
    });

    it("reads TSV", async () => {
        const got = await rows("prompt\tresponse\nQ, really?\t\"A\"\n", "tsv");
        expect(got[0]!.record).toEqual({ prompt: "Q, really?", response: '"A"' });
    });
});
