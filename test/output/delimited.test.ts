import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { delimitedWriter, quoteField, readFileHeader } from "../../src/output/delimited.js";
import type { InputRow } from "../../src/input/inputRow.js";

const jsonRow = (line: number, text: string): InputRow => {
    try {
        return { source: "in.jsonl", line, format: "jsonl", text, record: JSON.parse(text) };
    } catch {
        return { source: "in.jsonl", line, format: "jsonl", text, parseError: "not valid JSON" };
    }
};

/** Writes the rows through a CSV writer adding `reward` and `error`; returns the text and the warnings. */
function write(rows: InputRow[], delimiter = ","): { text: string; warnings: string[] } {
    const warnings: string[] = [];
    const writer = delimitedWriter(delimiter, () => ["reward", "error"], (m) => warnings.push(m));
    const text = rows.map((row) => writer.row(row, row.record === undefined ? { reward: null, error: "bad" } : { reward: 1.5 })).join("") + writer.end();
    return { text, warnings };
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

describe("delimitedWriter", () => {
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

    it("lays later rows out by column name and reports each field without a column once", () => {
        const { text, warnings } = write([
            jsonRow(1, '{"a": "1", "b": "2"}'),
            jsonRow(2, '{"b": "3", "a": "4", "c": "5"}'),
            jsonRow(3, '{"c": "6", "a": "7"}'),
        ]);
        expect(parse(text, { columns: true })).toEqual([
            { a: "1", b: "2", reward: "1.5", error: "" },
            { a: "4", b: "3", reward: "1.5", error: "" },
            { a: "7", b: "", reward: "1.5", error: "" },
        ]);
        expect(warnings).toHaveLength(1);
        expect(warnings[0]).toMatch(/^in\.jsonl:2: .*no column for c\b/);
    });

    it("writes a JSON record's numbers and nested values as their own text", () => {
        const text = '{"id": 12345678901234567890, "x": 1.0, "tags": ["a", 2.50], "s": "t"}';
        const [, values] = parse(write([jsonRow(1, text)]).text) as string[][];
        expect(values).toEqual(["12345678901234567890", "1.0", '["a", 2.50]', "t", "1.5", ""]);
    });
});

describe("readFileHeader (the columns of a file a resumed run continues)", () => {
    const dir = mkdtempSync(join(tmpdir(), "nemoreward-header-"));
    const write = (name: string, text: string) => {
        writeFileSync(join(dir, name), text);
        return join(dir, name);
    };

    it("reads names and the line ending, counting bytes, not characters", () => {
        expect(readFileHeader(write("crlf.csv", "prompt,note_é漢,reward\r\nHi,x,1\r\n"), ",")).toEqual({ names: ["prompt", "note_é漢", "reward"], eol: "\r\n" });
        expect(readFileHeader(write("lf.csv", 'prompt,"a, b",reward\nHi,x,1\n'), ",")).toEqual({ names: ["prompt", "a, b", "reward"], eol: "\n" });
    });

    it("TSV: a quoted name is read as the TSV reader reads it; a quote inside a name is data", () => {
        expect(readFileHeader(write("q.tsv", 'prompt\t"a\tb"\tsay "id"\treward\nHi\t1\t2\t3\n'), "\t"))
            .toEqual({ names: ["prompt", "a\tb", 'say "id"', "reward"], eol: "\n" });
    });

    it("a header longer than one read, and a file with no header yet", () => {
        const long = "x".repeat(300_000);
        expect(readFileHeader(write("long.csv", `"${long}",id,reward\nv,1,2\n`), ",")?.names).toEqual([long, "id", "reward"]);
        expect(readFileHeader(write("empty.csv", ""), ",")).toBeUndefined();
    });
});
