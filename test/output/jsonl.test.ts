import { describe, expect, it } from "vitest";
import { jsonlLine, topLevelValues } from "../../src/output/jsonl.js";

const row = (text: string, format: "jsonl" | "json" = "jsonl") => ({ source: "x", line: 7, format, text, record: JSON.parse(text) });

describe("jsonlLine", () => {
    it("keeps the record's own text byte for byte and appends the fields", () => {
        const text = '{"id": 12345678901234567890, "x": 1.50, "s": "\\u00e9"}  ';
        expect(jsonlLine(row(text), { reward: -3.5 })).toBe('{"id": 12345678901234567890, "x": 1.50, "s": "\\u00e9","reward":-3.5}');
    });

    it("handles an empty object", () => {
        expect(jsonlLine(row("{ }"), { reward: 1 })).toBe('{"reward":1}');
    });

    it("replaces a field the record already has rather than writing it twice", () => {
        const line = jsonlLine(row('{"reward": 9, "a": 1}'), { reward: 2 });
        expect(JSON.parse(line)).toEqual({ reward: 2, a: 1 });
        expect(line.match(/reward/g)).toHaveLength(1);
    });

    it("writes the line number for a line that held no record", () => {
        expect(JSON.parse(jsonlLine({ source: "x", line: 3, format: "jsonl", text: "oops" }, { reward: null, error: "bad" })))
            .toEqual({ line: 3, reward: null, error: "bad" });
    });

    it("gives a field the record already has its new value in place, every other byte kept", () => {
        const before = '{"id": 12345678901234567890, "x": 1.0, "meta": {"reward": 5}, "reward" : 0 , "s": "\\"reward\\": 1"';
        const line = jsonlLine(row(`${before}}`), { reward: -3.5, error: "e" });
        expect(line).toBe(`${before.replace('"reward" : 0 ', '"reward" : -3.5 ')},"error":"e"}`);
    });

    it("writes a multi-line JSON array item on one line, losing only the line breaks and their indentation", () => {
        const lines = ["{", '  "id": 12345678901234567890,', '  "text": "two  spaces",', '  "nested": [', "    1.0", "  ],", '  "reward": 1', "}"];
        const line = jsonlLine(row(lines.join("\r\n"), "json"), { reward: 2 });
        expect(line).toBe(lines.map((l) => l.trim()).join("").replace('"reward": 1', '"reward": 2'));
        expect(jsonlLine(row('{\n  "id": 12345678901234567890,\n  "text": "two  spaces"\n}', "json"), { reward: 2 }))
            .toBe('{"id": 12345678901234567890,"text": "two  spaces","reward":2}');
    });

    it("re-writes a record nested any deep without running out of stack", () => {
        const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
        const text = `{"reward": 0, "d": ${deep}}`;
        expect(jsonlLine(row(text), { reward: -1 })).toBe(text.replace('"reward": 0', '"reward": -1'));
    });
});

describe("topLevelValues", () => {
    it("finds each top-level key and the text of its value, whatever the strings and nesting hold", () => {
        const text = ' { "a\\"b" : [1, {"c": "}, \\\\"}], "d":"x,y" ,"e":null,"f":{}}';
        const values = topLevelValues(text).map(({ key, start, end }) => [key, text.slice(start, end)]);
        expect(values).toEqual([['a"b', '[1, {"c": "}, \\\\"}]'], ["d", '"x,y"'], ["e", "null"], ["f", "{}"]]);
    });
});
