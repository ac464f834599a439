import { describe, expect, it } from "vitest";
import { jsonlLine } from "../../src/output/jsonl.js";

const row = (text: string) => ({ source: "x", line: 7, format: "jsonl" as const, text, record: JSON.parse(text) });

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
});
