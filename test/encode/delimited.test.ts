import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { Chalk } from "chalk";
import { delimitedEncoder } from "../../src/encode/delimited.js";
import { readHeader } from "../../src/input/delimited.js";
import { quoteField } from "../../src/records/csvText.js";
import { parseRecord } from "../../src/records/json.js";
import type { InputRow, Source } from "../../src/records/row.js";
import { named } from "../../src/records/toolFields.js";

const source: Source = { name: "in.jsonl", format: "jsonl" };
const jsonRow = (line: number, text: string): InputRow => ({ source, line, text, ...parseRecord(text) });

/** Writes the rows through a CSV encoder adding `reward` and `error`; returns the text, the warnings and the rows made error rows. */
function write(rows: InputRow[], delimiter: "," | "\t" = ","): { text: string; warnings: string[]; errors: string[] } {
    const warnings: string[] = [], errors: string[] = [];
    const encoder = delimitedEncoder(delimiter, {
        layoutOf: () => [{ name: "reward", kind: "double" }, named("error")], warn: (m) => warnings.push(m), onError: (row, m) => errors.push(`${row.line}: ${m}`),
        sources: () => [source], color: new Chalk({ level: 0 }), width: 80,
    });
    const text = rows.map((row) => encoder.row({ input: row, fields: row.record === undefined ? { reward: null, error: "bad" } : { reward: 1.5 } })).join("") + encoder.end();
    return { text, warnings, errors };
}

describe("quoteField", () => {
    it("TSV: a value with a tab or a line break, or starting with a quote, is quoted as in CSV and reads back to the same text; other quotes are data", () => {
        const values = ["Line one\nline\ttwo \"q\"", "cr\rlf\r\n", "plain, with a comma", ""];
        const line = values.map((v) => quoteField(v, "\t")).join("\t");
        expect(parse(line, { delimiter: "\t", quote: '"' })).toEqual([values]);
        expect(quoteField("plain, with a comma", "\t")).toBe("plain, with a comma");
        expect(quoteField('say "hi"', "\t")).toBe('say "hi"');
        // a leading quote is quoted: the reader takes a field that starts with a quote for a quoted one
        expect(quoteField('"Quoted" start', "\t")).toBe('"""Quoted"" start"');
        expect(parse(quoteField('"Quoted" start', "\t"), { delimiter: "\t", quote: '"' })).toEqual([['"Quoted" start']]);
        expect(quoteField('say "hi"', ",")).toBe('"say ""hi"""');
    });
});

describe("the CSV encoder", () => {
    it("takes the header from the first row with a record; rows before it wait and keep their place", () => {
        const { text } = write([jsonRow(1, "oops"), jsonRow(2, "nope"), jsonRow(3, '{"prompt": "Hi", "response": "Yo"}')]);
        expect(parse(text, { columns: true })).toEqual([
            { prompt: "", response: "", reward: "", error: "bad" },
            { prompt: "", response: "", reward: "", error: "bad" },
            { prompt: "Hi", response: "Yo", reward: "1.5", error: "" },
        ]);
    });

    it("an input with no record at all gets the line numbers", () => {
        expect(parse(write([jsonRow(1, "oops"), jsonRow(3, "nope")]).text, { columns: true })).toEqual([
            { line: "1", reward: "", error: "bad" },
            { line: "3", reward: "", error: "bad" },
        ]);
    });

    it("lays later rows out by column name; a row with a field that has no column is an error row that names it", () => {
        const { text, warnings, errors } = write([
            jsonRow(1, '{"a": "1", "b": "2"}'),
            jsonRow(2, '{"b": "3", "a": "4", "c": "5"}'),
            jsonRow(3, '{"a": "7"}'),
        ]);
        const noColumn = "the output has no column for c (its columns come from the first row with a record): write JSONL to keep every field, or give the rows the same fields";
        expect(parse(text, { columns: true })).toEqual([
            { a: "1", b: "2", reward: "1.5", error: "" },
            { a: "4", b: "3", reward: "", error: noColumn },
            { a: "7", b: "", reward: "1.5", error: "" },
        ]);
        expect(errors).toEqual([`2: ${noColumn}`]);
        expect(warnings).toEqual([]);
    });

    it("writes a JSON record's numbers and nested values as their own text", () => {
        const text = '{"id": 12345678901234567890, "x": 1.0, "tags": ["a", 2.50], "s": "t"}';
        const [, values] = parse(write([jsonRow(1, text)]).text) as string[][];
        expect(values).toEqual(["12345678901234567890", "1.0", '["a", 2.50]', "t", "1.5", ""]);
    });
});

describe("readHeader (the columns of a file a resumed run continues)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nemoreward-header-"));
    const write = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
    };

    it("reads names and the line ending, counting bytes, not characters", async () => {
        expect(await readHeader(write("crlf.csv", "prompt,note_é漢,reward\r\nHi,x,1\r\n"), ",")).toEqual({ names: ["prompt", "note_é漢", "reward"], eol: "\r\n" });
        expect(await readHeader(write("lf.csv", 'prompt,"a, b",reward\nHi,x,1\n'), ",")).toEqual({ names: ["prompt", "a, b", "reward"], eol: "\n" });
    });

    it("TSV: a quoted name is read as the TSV reader reads it; a quote inside a name is data", async () => {
        expect(await readHeader(write("q.tsv", 'prompt\t"a\tb"\tsay "id"\treward\nHi\t1\t2\t3\n'), "\t"))
            .toEqual({ names: ["prompt", "a\tb", 'say "id"', "reward"], eol: "\n" });
    });

    it("a header longer than one read, and a file with no header yet", async () => {
        const long = "x".repeat(300_000);
        expect((await readHeader(write("long.csv", `"${long}",id,reward\nv,1,2\n`), ","))?.names).toEqual([long, "id", "reward"]);
        expect(await readHeader(write("empty.csv", ""), ",")).toBeUndefined();
    });
});
