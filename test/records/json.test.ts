import { describe, expect, it } from "vitest";
import { fieldSpans, parseRecord, spliceJson } from "../../src/records/json.js";
import { Decimal, jsonText, type Value } from "../../src/records/values.js";

/** The record's text with `fields` set, as the JSON encoder writes it. */
const jsonlLine = (text: string, fields: Record<string, Value>) => spliceJson(text,
    Object.fromEntries(Object.entries(fields).map(([name, value]) => [name, jsonText(value)])),
    Object.keys(fields).some((name) => Object.hasOwn(JSON.parse(text) as object, name)));
const row = (text: string, _format?: "jsonl" | "json") => text;

describe("spliceJson", () => {
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

describe("fieldSpans", () => {
    it("finds each top-level key and the text of its value, whatever the strings and nesting hold", () => {
        const text = ' { "a\\"b" : [1, {"c": "}, \\\\"}], "d":"x,y" ,"e":null,"f":{}}';
        const values = fieldSpans(text).map(({ key, start, end }) => [key, text.slice(start, end)]);
        expect(values).toEqual([['a"b', '[1, {"c": "}, \\\\"}]'], ["d", '"x,y"'], ["e", "null"], ["f", "{}"]]);
    });
});

describe("parseRecord: every number exactly as written", () => {
    it("keeps doubles as doubles, and makes a number a double cannot hold a bigint or a Decimal", () => {
        const { record } = parseRecord('{"a": 1.15, "b": 9007199254740993, "c": -9223372036854775808, "d": 0.1000000000000000055511151231257827, ' +
            '"e": 1e400, "f": 123456789012345678901234567890, "g": 3.0, "h": 1e-7, "i": 9007199254740992}');
        expect(record!["a"]).toBe(1.15);
        expect(record!["b"]).toBe(9007199254740993n);
        expect(record!["c"]).toBe(-9223372036854775808n);
        expect(record!["d"]).toEqual(new Decimal(1000000000000000055511151231257827n, 34));
        expect(String(record!["e"])).toBe("1e400");
        expect(String(record!["f"])).toBe("123456789012345678901234567890");
        expect(record!["g"]).toBe(3);
        expect(record!["h"]).toBe(1e-7);
        expect(record!["i"]).toBe(9007199254740992);
    });

    it("gives the structure JSON.parse gives, also for duplicate keys, __proto__ and strings that look like numbers", () => {
        const text = '{"x": "12345678901234567890", "__proto__": {"n": 12345678901234567890}, "k": 1, "k": [2, {"z": null}], "t": true, "u": "\\u00e9\\n"}';
        const { record } = parseRecord(text);
        const plain = JSON.parse(text) as Record<string, unknown>;
        expect(Object.keys(record!)).toEqual(Object.keys(plain));
        expect(record!["x"]).toBe("12345678901234567890");
        expect(record!["k"]).toEqual([2, { z: null }]);
        expect(record!["u"]).toBe("é\n");
        expect(String((record!["__proto__"] as Record<string, unknown>)["n"])).toBe("12345678901234567890");
        expect(Object.getPrototypeOf(record)).toBe(Object.prototype);
    });

    it("reads a record nested 100,000 deep holding a long number without running out of stack", () => {
        const deep = `${"[".repeat(100_000)}1234567890123456789${"]".repeat(100_000)}`;
        const { record } = parseRecord(`{"d": ${deep}}`);
        let value: unknown = record!["d"];
        for (let i = 0; i < 100_000; i++) value = (value as unknown[])[0];
        expect(value).toBe(1234567890123456789n);
    });

    it("writes each value back as the text that reads as it (values.ts)", () => {
        const text = '{"a":1.15,"b":9007199254740993,"d":0.1000000000000000055511151231257827,"e":1e400,"f":[-0.5,12345678901234567890.5]}';
        expect(jsonText(parseRecord(text).record!)).toBe(text);
    });
});

describe("parseRecord: keys given twice", () => {
    // a record written by hand, keys drawn from a small set so that some repeat; the expected repeats are counted here
    const keys = ["a", "b", "reward", "k\"q", "é"];
    const texts = (key: string) => [JSON.stringify(key), JSON.stringify(key).replace(/[a-z]/, (c) => `\\u00${c.charCodeAt(0).toString(16)}`)];
    const values = ['1', '"x\\\\"', '"\\"a\\": 1, \\"a\\": 2"', '{"a": 1, "a": [2, {"b": 3}]}', '[{"reward": 1}, "}"]', "null"];
    it("names each top-level key the text gives more than once, whatever its escapes, and no nested one (1,000 random records)", () => {
        let seed = 7;
        const pick = <T>(list: readonly T[]) => list[(seed = (seed * 1103515245 + 12345) % 2 ** 31) % list.length]!;
        for (let n = 0; n < 1000; n++) {
            const count = pick([0, 1, 2, 3, 4, 5]);
            const chosen = Array.from({ length: count }, () => pick(keys));
            const text = `{${chosen.map((key) => `${pick(texts(key))} : ${pick(values)}`).join(" ,")}}`;
            const repeated = keys.filter((key) => chosen.filter((k) => k === key).length > 1);
            const parsed = parseRecord(text);
            expect(parsed.record, text).toBeDefined();
            expect([...(parsed.repeated ?? [])].sort(), text).toEqual([...repeated].sort());
        }
    });
});
