import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { constants, gunzipSync, gzipSync } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import type { InputFormat } from "../../src/formats.js";
import { countRows, findInputs } from "../../src/input/sources.js";
import type { InputRow } from "../../src/records/row.js";
import { parseJsonl, readBytes, readFile, runInProcess, tinyModel } from "../helpers.js";

function rows(text: string | Buffer, format: InputFormat, chunkSize = 7, maxRecordBytes?: number): Promise<InputRow[]> {
    return readBytes(text, format, { chunkSize, maxRecordBytes });
}

/** Bytes that are not UTF-8: a lone continuation byte, and 0xFF, which never occurs in UTF-8. */
const invalidUtf8 = Buffer.from([0x80, 0xff]);

const tempDir = mkdtempSync(join(tmpdir(), "nemoreward-readers-"));
afterAll(() => rmSync(tempDir, { recursive: true, force: true }));

describe("JSONL", () => {
    it("skips blank lines, numbers lines from 1, strips a BOM and CRLF", async () => {
        const got = await rows('\uFEFF{"a":1}\r\n\r\n  \n{"a":"é"}\r\nnope\n', "jsonl");
        expect(got.map((r) => [r.line, r.record, r.problem !== undefined])).toEqual([[1, { a: 1 }, false], [4, { a: "é" }, false], [5, undefined, true]]);
        expect(got[0]!.text).toBe('{"a":1}');
    });

    it("makes a line of invalid UTF-8 an error row and reads on; a real U+FFFD is kept", async () => {
        const text = Buffer.concat([Buffer.from('{"a":"ok"}\n{"a":"Hi '), invalidUtf8, Buffer.from('"}\n{"a":"\uFFFD é"}\n')]);
        const got = await rows(text, "jsonl");
        expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([[1, { a: "ok" }], [2, expect.stringMatching(/UTF-8/)], [3, { a: "\uFFFD é" }]]);
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
    const got = await readBytes(huge(), "jsonl");
    const after = process.memoryUsage();
    expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([[1, "the line is over the 67108864-byte limit"], [2, { b: 2 }]]);
    expect(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers).toBeLessThan(100 * 1024 * 1024);
});

describe("a gzip file cut short", () => {
    const lines = Array.from({ length: 2000 }, (_, i) => JSON.stringify({ prompt: `Question ${i}: ${(i * 7919).toString(36).repeat(i % 5 + 1)}`, response: `Answer ${i}` }));
    const gzip = gzipSync(`${lines.join("\n")}\n`);
    const cut = (length: number) => {
        const path = join(tempDir, `cut-${length}.jsonl.gz`);
        writeFileSync(path, gzip.subarray(0, length));
        // what zlib can decode of the cut file, counted without the reader: its complete lines
        const complete = gunzipSync(gzip.subarray(0, length), { finishFlush: constants.Z_SYNC_FLUSH }).toString().split("\n").length - 1;
        return { path, complete };
    };

    it.each([1000, 6000, 20000])("yields every complete line before the cut, then an error row naming the file (%i bytes)", async (length) => {
        const { path, complete } = cut(length);
        expect(complete).toBeGreaterThan(0);
        const got = await readFile(path);
        expect(got.slice(0, complete).map((r) => r.text)).toEqual(lines.slice(0, complete));
        expect(got.slice(0, complete).every((r) => r.problem === undefined)).toBe(true);
        expect(got.slice(complete)).toEqual([expect.objectContaining({ source: expect.objectContaining({ name: path }), line: complete + 1, problem: expect.stringMatching(/gzip stream ends early/) })]);
    });

    it("is scored and written up to the cut; stderr names the file", async () => {
        const { path, complete } = cut(3000);
        const { code, stdout, stderr } = await runInProcess(["score", path, "-m", tinyModel, "--format", "jsonl", "-q"]);
        expect(code).toBe(3);
        const out = parseJsonl(stdout);
        expect(out.slice(0, complete).map((r) => r.prompt)).toEqual(lines.slice(0, complete).map((l) => JSON.parse(l).prompt));
        expect(out.slice(0, complete).every((r) => typeof r.reward === "number")).toBe(true);
        expect(out.slice(complete)).toEqual([expect.objectContaining({ line: complete + 1, reward: null, error: expect.stringMatching(/gzip stream ends early/) })]);
        expect(stderr).toContain(`${path}:${complete + 1}: the gzip stream ends early`);
    });
});

describe("JSON array", () => {
    it("yields items one by one, with brackets, commas and escapes inside strings, and each item's line", async () => {
        const text = '[\n  {"a": "x], {y", "b": [1, {"c": "\\"]"}]},\n  {"a": 2}\n]\n';
        const got = await rows(text, "json", 3);
        expect(got.map((r) => r.record)).toEqual([{ a: "x], {y", b: [1, { c: '"]' }] }, { a: 2 }]);
        expect(got.map((r) => r.line)).toEqual([2, 3]);
    });

    it("an item with bytes that are not UTF-8 is an error row; a real U+FFFD elsewhere is text", async () => {
        const text = Buffer.concat([Buffer.from('[{"a": "real \uFFFD here"},\n {"a": "bad '), invalidUtf8, Buffer.from('"},\n {"a": "fine"}]')]);
        for (const chunkSize of [7, 1 << 16]) { // items in chunks of their own, and all in one chunk
            const got = await rows(text, "json", chunkSize);
            expect(got.map((r) => [r.line, r.record ?? r.problem])).toEqual([[1, { a: "real \uFFFD here" }], [2, "not valid UTF-8 text"], [3, { a: "fine" }]]);
        }
    });

    it("reads an empty array as no rows", async () => {
        expect(await rows(" [ ] ", "json")).toEqual([]);
    });

    it("turns non-object items and a cut-off array into error rows", async () => {
        const got = await rows('[{"a": 1}, 5, {"a": 2', "json");
        expect(got.map((r) => r.problem ?? "ok")).toEqual(["ok", "not a JSON object", "the JSON array is cut off here"]);
    });

    it("reports a file that is neither an array nor JSON Lines", async () => {
        const got = await rows('"a string"', "json");
        expect(got).toHaveLength(1);
        expect(got[0]!.problem).toMatch(/must hold an array/);
    });

    it("reads a .json file that starts with an object as JSON Lines (Hugging Face dumps), lines counted as written", async () => {
        const got = await rows('\n  {"a": 1}\n\n{"a": 2}\nnot json\n', "json");
        expect(got.map((r) => [r.line, r.record ?? r.problem])).toEqual([[2, { a: 1 }], [4, { a: 2 }], [5, expect.stringMatching(/not valid JSON/)]]);
    });

    it("reads a pretty-printed object (.json from json.dumps(indent=2) / JSON.stringify(x, null, 2)) as one record", async () => {
        const record = { messages: [{ role: "user", content: "Hi {there}\n" }, { role: "assistant", content: "}\n{" }] };
        for (const chunkSize of [1, 7, 4096]) {
            const got = await rows(`\uFEFF${JSON.stringify(record, null, 2)}\n`, "json", chunkSize);
            expect(got.map((r) => [r.line, r.record ?? r.problem])).toEqual([[1, record]]);
        }
        const cut = await rows('{\n  "a": 1\n', "json");
        expect(cut.map((r) => r.problem)).toEqual([expect.stringMatching(/not valid JSON/)]);
    });
});

describe("CSV and TSV", () => {
    it("parses quoted commas, quotes and newlines, a BOM and CRLF, keeping each record's raw text", async () => {
        const text = '\uFEFFprompt,response\r\n"Say ""hi"", twice","hi,\r\nhi"\r\nQ?,A.\r\n';
        const got = await rows(text, "csv");
        expect(got.map((r) => r.record)).toEqual([{ prompt: 'Say "hi", twice', response: "hi,\r\nhi" }, { prompt: "Q?", response: "A." }]);
        expect(got.map((r) => r.text)).toEqual(['"Say ""hi"", twice","hi,\r\nhi"', "Q?,A."]);
        expect(got.map((r) => r.line)).toEqual([2, 4]);
        expect(got[0]!.source.header).toEqual({ names: ["prompt", "response"], text: "prompt,response", delimiter: ",", eol: "\r\n" });
    });

    it("turns a ragged row into an error row and goes on", async () => {
        const got = await rows("a,b\n1,2\n3\n4,5,6\n7,8\n", "csv");
        expect(got.map((r) => r.problem ?? r.record)).toEqual([
            { a: "1", b: "2" }, "expected 2 columns, found 1", "expected 2 columns, found 3", { a: "7", b: "8" },
        ]);
    });

    it("skips blank lines and still numbers lines as an editor does", async () => {
        const got = await rows("a,b\n\n1,2\n\r\n3,4\n", "csv");
        expect(got.map((r) => [r.line, r.record])).toEqual([[3, { a: "1", b: "2" }], [5, { a: "3", b: "4" }]]);
    });

    it("makes a record with invalid UTF-8 an error row and reads the records after it", async () => {
        const text = Buffer.concat([Buffer.from('prompt,response\nQ1,"A1\n'), invalidUtf8, Buffer.from('"\nQ2,A2 é\nQ3,A3\n')]);
        const got = await rows(text, "csv");
        expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([
            [2, expect.stringMatching(/UTF-8/)], [4, { prompt: "Q2", response: "A2 é" }], [5, { prompt: "Q3", response: "A3" }],
        ]);
        const tsv = await rows(Buffer.concat([Buffer.from("prompt\tresponse\nQ1\t"), invalidUtf8, Buffer.from("\nQ2\tA2\n")]), "tsv");
        expect(tsv.map((r) => r.problem ?? r.record)).toEqual([expect.stringMatching(/UTF-8/), { prompt: "Q2", response: "A2" }]);
    });

    it("makes a record over --max-record-mb an error row and reads the records after it", async () => {
        const big = `Q2,"${"x".repeat(3000)}"`;
        const limit = 1000;
        expect(Buffer.byteLength(big)).toBeGreaterThan(limit);
        const got = await rows(`prompt,response\nQ1,A1\n${big}\nQ3,A3\nQ4,"A4\nmore"\n`, "csv", 256, limit);
        expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([
            [2, { prompt: "Q1", response: "A1" }], [3, `the record is over the ${limit}-byte limit`],
            [4, { prompt: "Q3", response: "A3" }], [5, { prompt: "Q4", response: "A4\nmore" }],
        ]);
    });

    it("a 200 MB quoted cell is one error row, read past without being held in memory; the records after it are read", async () => {
        const megabyte = Buffer.alloc(1024 * 1024, 0x61);
        async function* huge() {
            yield Buffer.from('prompt,response\nQ1,A1\nQ2,"');
            for (let i = 0; i < 200; i++) yield megabyte;
            yield Buffer.from('"\nQ3,A3\nQ4,"A4\nmore"\n');
        }
        const before = process.memoryUsage();
        const got = await readBytes(huge(), "csv");
        const after = process.memoryUsage();
        expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([
            [2, { prompt: "Q1", response: "A1" }], [3, "the record is over the 67108864-byte limit"],
            [4, { prompt: "Q3", response: "A3" }], [5, { prompt: "Q4", response: "A4\nmore" }],
        ]);
        expect(after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers).toBeLessThan(100 * 1024 * 1024);
    });

    it("an unclosed quote makes the rest of the input one error row, held no more than the record limit", async () => {
        const got = await rows('prompt,response\nQ1,A1\nQ2,"A2\nQ3,A3\nQ4,A4\n', "csv");
        expect(got.map((r) => [r.line, r.problem ?? r.record])).toEqual([
            [2, { prompt: "Q1", response: "A1" }], [3, "a quoted field is not closed: it runs to the end of the file"],
        ]);
    });

    it("reads TSV: a field that starts with a quote is quoted (as pandas reads TSV), a quote elsewhere is text", async () => {
        const got = await rows('prompt\tresponse\nQ, really?\tsay "A"\n"two\tlines\n"\t"Hi," she said\n', "tsv");
        expect(got.map((row) => row.record)).toEqual([{ prompt: "Q, really?", response: 'say "A"' }, { prompt: "two\tlines\n", response: '"Hi," she said' }]);
    });

    it("takes CRLF and LF line ends mixed in one file", async () => {
        for (const text of ["prompt,response\r\nP1,R1\nP2,\"two\nlines\"\n", "prompt,response\nP1,R1\r\nP2,\"two\nlines\"\r\n"]) {
            const got = await rows(text, "csv");
            expect(got.map((r) => r.record)).toEqual([{ prompt: "P1", response: "R1" }, { prompt: "P2", response: "two\nlines" }]);
        }
    });

    it("makes duplicate header names unique as pandas does, so no cell overwrites another", async () => {
        const got = await rows("prompt,response,note,note,,\nHi,Hello,a,b,c,d\n", "csv");
        expect(got[0]!.record).toEqual({ prompt: "Hi", response: "Hello", note: "a", "note.1": "b", "": "c", ".1": "d" });
    });

    it("keeps a record of only empty fields (a line of delimiters); skips only blank lines", async () => {
        const tsv = await rows("a\tb\n\t\n\n  \nx\ty\n", "tsv");
        expect(tsv.map((r) => [r.line, r.record])).toEqual([[2, { a: "", b: "" }], [5, { a: "x", b: "y" }]]);
        const csv = await rows("a,b\n,\nx,y\n", "csv");
        expect(csv.map((r) => r.record)).toEqual([{ a: "", b: "" }, { a: "x", b: "y" }]);
    });
});

describe("a blank line: one rule for reading and for counting", () => {
    const odd = ["\u000b", "\f", "\u00a0", "\ufeff", "\u2028", "\u3000"];

    it("JSONL: only JSON whitespace is blank; a line of any other space is a row, an error row; the count agrees", async () => {
        const text = `\ufeff{"a":1}\n \t\r\n${odd.join("\n")}\n\n{"a":2}\n`;
        const got = await rows(text, "jsonl");
        expect(got.map((r) => [r.line, r.record ?? r.problem?.slice(0, 14)])).toEqual([
            [1, { a: 1 }], ...odd.map((_, i) => [3 + i, "not valid JSON"]), [10, { a: 2 }]]);
        const path = join(tempDir, "odd.jsonl");
        writeFileSync(path, text);
        expect(await countRows(findInputs([path], undefined))).toBe(got.length);
    });

    it("CSV and TSV: a line of another space is a record of one field", async () => {
        const got = await rows(`a,b\n${odd.join("\n")}\n \t\n1,2\n`, "csv");
        expect(got.map((r) => r.problem ?? r.record)).toEqual([...odd.map(() => "expected 2 columns, found 1"), { a: "1", b: "2" }]);
    });
});
