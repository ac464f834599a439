import { parquetSchema, type FileMetaData, type SchemaElement, type SchemaTree } from "hyparquet";
import { describe, expect, it } from "vitest";
import { readValue, writeValue } from "../../src/records/parquetValues.js";
import { Decimal, Interval, MapValue, ValueError, type Value } from "../../src/records/values.js";

/** A column's tree from its elements, as the encoder builds it. */
const tree = (...elements: SchemaElement[]): SchemaTree =>
    parquetSchema({ schema: [{ name: "root", num_children: 1 }, ...elements] } as FileMetaData).children[0]!;
const leaf = (element: Omit<SchemaElement, "name">) => tree({ name: "c", repetition_type: "OPTIONAL", ...element });
const fits = (column: SchemaTree, value: Value) => {
    try {
        writeValue(column, value);
        return true;
    } catch (error) {
        if (error instanceof ValueError) return false;
        throw error;
    }
};

describe("Parquet values both ways, exactly", () => {
    it("a value goes into a column only when the column holds it exactly", () => {
        const int32 = leaf({ type: "INT32" }), uint8 = leaf({ type: "INT32", converted_type: "UINT_8" }), int64 = leaf({ type: "INT64" });
        const float = leaf({ type: "FLOAT" }), decimal = leaf({ type: "INT64", converted_type: "DECIMAL", precision: 10, scale: 2 });
        expect([fits(int32, 2147483647), fits(int32, 2147483648), fits(int32, 1.5), fits(int32, 7n), fits(uint8, 255), fits(uint8, -1)])
            .toEqual([true, false, false, true, true, false]);
        expect([fits(int64, 9007199254740993n), fits(int64, 2n ** 63n), fits(int64, "1")]).toEqual([true, false, false]);
        expect([fits(float, 0.5), fits(float, 0.1), fits(float, NaN)]).toEqual([true, false, true]);
        expect([fits(decimal, new Decimal(115n, 2)), fits(decimal, 1.15), fits(decimal, new Decimal(1151n, 3)), fits(decimal, new Decimal(10n ** 10n, 0)), fits(decimal, 3n)])
            .toEqual([true, true, false, false, true]);
        expect(writeValue(decimal, 1.15)).toBe(115n);
    });

    it("decimals, unsigned integers, intervals and UUIDs read from their bytes and written back to the same bytes", () => {
        const cases: [SchemaTree, unknown][] = [
            [leaf({ type: "FIXED_LEN_BYTE_ARRAY", type_length: 16, converted_type: "DECIMAL", precision: 38, scale: 2 }), new Uint8Array([255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 255, 1])],
            [leaf({ type: "BYTE_ARRAY", converted_type: "DECIMAL", precision: 20, scale: 0 }), new Uint8Array([0, 255])],
            [leaf({ type: "INT64", converted_type: "UINT_64" }), -1n],
            [leaf({ type: "INT32", converted_type: "UINT_32" }), -2],
            [leaf({ type: "FIXED_LEN_BYTE_ARRAY", type_length: 12, converted_type: "INTERVAL" }), new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])],
            [leaf({ type: "FIXED_LEN_BYTE_ARRAY", type_length: 16, logical_type: { type: "UUID" } }), new Uint8Array(Array.from({ length: 16 }, (_, i) => i * 16))],
            [leaf({ type: "INT96" }), (2_440_589n << 64n) | 5n],
        ];
        const typed = cases.map(([column, raw]) => readValue(column, raw));
        expect(typed.slice(0, 5)).toEqual([new Decimal(-255n, 2), new Decimal(255n, 0), 2n ** 64n - 1n, 2 ** 32 - 2, new Interval(1, 2, 3)]);
        expect(typed[5]).toBe("00102030-4050-6070-8090-a0b0c0d0e0f0");
        expect(typed[6]).toBe(86_400_000_000_005n);
        const bytes = (v: unknown) => (v instanceof Uint8Array ? [...v] : v);
        for (const [i, [column, raw]] of cases.entries()) expect(bytes(writeValue(column, typed[i]!))).toEqual(bytes(raw));
    });

    it("a DATE or millisecond TIMESTAMP beyond what a JavaScript Date holds stays its count, never an error or another day", () => {
        const date = leaf({ type: "INT32", converted_type: "DATE" }), millis = leaf({ type: "INT64", logical_type: { type: "TIMESTAMP", isAdjustedToUTC: true, unit: "MILLIS" } });
        expect(readValue(date, 1)).toEqual(new Date(86_400_000));
        expect(readValue(date, 2_147_483_646)).toBe(2_147_483_646);
        expect(readValue(date, -2_147_483_647)).toBe(-2_147_483_647);
        expect(readValue(millis, 8_640_000_000_000_000n)).toEqual(new Date(8.64e15));
        expect(readValue(millis, 9_223_371_244_800_000n)).toBe(9_223_371_244_800_000n);
    });

    it("a struct field or a map's parts named __proto__ are fields like any other", () => {
        const struct = tree({ name: "s", repetition_type: "OPTIONAL", num_children: 2 }, { name: "__proto__", type: "INT64", repetition_type: "OPTIONAL" },
            { name: "a", type: "INT64", repetition_type: "OPTIONAL" });
        const read = readValue(struct, { ["__proto__\u0000"]: 1n, a: 2n }) as Record<string, Value>;
        expect(Object.keys(read)).toEqual(["__proto__", "a"]);
        expect(Object.getPrototypeOf(read)).toBe(Object.prototype);
        expect(read["__proto__"]).toBe(1n);
        expect(Object.entries(writeValue(struct, read) as object)).toEqual([["__proto__", 1n], ["a", 2n]]);
    });

    it("text is UTF-8 or a ValueError; structs and maps keep their fields, and a field with no place is a ValueError", () => {
        expect(() => readValue(leaf({ type: "BYTE_ARRAY", converted_type: "UTF8" }), new Uint8Array([0xff]))).toThrow("not valid UTF-8 text");
        const struct = tree({ name: "s", repetition_type: "OPTIONAL", num_children: 1 }, { name: "a", type: "INT64", repetition_type: "REQUIRED" });
        expect(writeValue(struct, { a: 1 })).toEqual({ a: 1n });
        expect(() => writeValue(struct, { a: 1, b: 2 })).toThrow('field "b" has no place in s');
        expect(() => writeValue(struct, { a: null })).toThrow("a is required");
        const map = tree({ name: "m", repetition_type: "OPTIONAL", num_children: 1, converted_type: "MAP" },
            { name: "key_value", repetition_type: "REPEATED", num_children: 2 },
            { name: "key", type: "INT64", repetition_type: "REQUIRED" }, { name: "value", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" });
        const read = readValue(map, { key_value: [{ key: 10n, value: new Uint8Array([97]) }, { key: 2n, value: undefined }] });
        expect(read).toEqual(new MapValue([[10n, "a"], [2n, null]]));
        expect(writeValue(map, read)).toEqual([{ key: 10n, value: Buffer.from("a") }, { key: 2n, value: null }]);
    });
});
