import { describe, expect, it } from "vitest";
import { cellText, Decimal, Float32, Interval, JsonText, jsonText, MapValue, ValueError } from "../../src/records/values.js";

describe("the exact text of each value", () => {
    it("decimals with all their digits, whatever their scale", () => {
        expect([new Decimal(115n, 2), new Decimal(-1n, 2), new Decimal(999999999999999999n, 3), new Decimal(12n, -3), new Decimal(0n, 0), new Decimal(1n, -400)].map(String))
            .toEqual(["1.15", "-0.01", "999999999999999.999", "12000", "0", "1e400"]);
        expect(new Decimal(115n, 2).rescale(4)).toEqual(new Decimal(11500n, 4));
        expect(new Decimal(115n, 2).rescale(1)).toBeUndefined();
        expect(new Decimal(110n, 2).rescale(1)).toEqual(new Decimal(11n, 1));
    });

    it("JSON text: integers and decimals exact, bytes base64, maps keyed by each key's text in order, JSON text as written on one line", () => {
        expect(jsonText({ a: 9007199254740993n, b: new Decimal(115n, 2), c: new Uint8Array([0, 255]), d: new MapValue([[10n, "x"], [2n, null]]),
            e: new Interval(1, 2, 3), f: new JsonText('{\n  "n": 9007199254740993\n}'), g: [1.5, null, true], h: new Date(86_400_000) }))
            .toBe('{"a":9007199254740993,"b":1.15,"c":"AP8=","d":{"10":"x","2":null},"e":{"months":1,"days":2,"milliseconds":3},' +
                '"f":{"n": 9007199254740993},"g":[1.5,null,true],"h":"1970-01-02T00:00:00.000Z"}');
    });

    it("a single-precision float as the shortest text that reads back as the same single: 0.1, not 0.10000000149011612", () => {
        expect([0.1, 1 / 3, 16777217, 3.4e38, -0, 1e-45].map((x) => String(new Float32(Math.fround(x))))).toEqual(["0.1", "0.33333334", "16777216", "3.4e+38", "-0", "1e-45"]);
        for (let i = 0; i < 1000; i++) {
            const single = Math.fround((i * 7919.123) / 977 - 3);
            expect(Math.fround(Number(jsonText(new Float32(single))))).toBe(single);
        }
        expect(() => jsonText(new Float32(NaN))).toThrow(ValueError);
        expect(cellText(new Float32(Infinity))).toBe("Infinity");
    });

    it("a double JSON cannot hold, or JSON text that is not JSON, is a ValueError, never another value", () => {
        for (const value of [NaN, Infinity, -Infinity, new JsonText("{not json")]) expect(() => jsonText({ x: value })).toThrow(ValueError);
        expect(jsonText([NaN, -Infinity], true)).toBe("[NaN,-Infinity]");
    });

    it("-0 keeps its sign in JSON and CSV text, also inside a list", () => {
        expect([jsonText(-0), jsonText([-0, 0]), cellText(-0), cellText(new Float32(-0)), jsonText({ x: -0 })]).toEqual(["-0", "[-0,0]", "-0", "-0", '{"x":-0}']);
        expect(Object.is(JSON.parse(jsonText(-0)), -0)).toBe(true);
    });

    it("a lone surrogate (no UTF-8 form) as a CSV cell is a ValueError, never U+FFFD; JSON text keeps it as an escape", () => {
        for (const text of ["a\ud800b", "\udfff", "x\udc00\ud800"]) {
            expect(() => cellText(text)).toThrow(ValueError);
            expect(JSON.parse(cellText([text]))).toEqual([text]); // inside JSON text, an escape
            expect(JSON.parse(jsonText(text, true))).toBe(text);
        }
        expect(cellText("😀 \ud83d\ude00")).toBe("😀 😀"); // a pair is a character
    });

    it("CSV cells: text as it is, NaN and Infinity by name, everything else its JSON text", () => {
        expect([cellText(null), cellText("a,b"), cellText(NaN), cellText(-Infinity), cellText(12345678901234567890n), cellText(new Decimal(-5n, 1)),
            cellText(new Uint8Array([104, 105])), cellText(new JsonText('{"a": 1}')), cellText([1, "x"])])
            .toEqual(["", "a,b", "NaN", "-Infinity", "12345678901234567890", "-0.5", "aGk=", '{"a": 1}', '[1,"x"]']);
    });
});
