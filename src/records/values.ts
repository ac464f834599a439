/**
 * The values a record holds, typed exactly as they came in, so that every encoder writes them exactly:
 *
 * - `null`, booleans, strings;
 * - `number`: a double (a JSON number that a double holds exactly, Parquet DOUBLE and the small integers);
 * - `Float32`: a Parquet FLOAT, written as the shortest text that reads back as the same single-precision value;
 * - `bigint`: a 64-bit integer (Parquet INT64, and a JSON integer that a double cannot hold); also Parquet's
 *   micro- and nanosecond timestamps and times, as their count;
 * - `Decimal`: an exact decimal (Parquet DECIMAL, and a JSON number that neither a double nor an integer holds);
 * - `Date`: a Parquet DATE or millisecond TIMESTAMP;
 * - `Uint8Array`: bytes (Parquet BYTE_ARRAY and FIXED_LEN_BYTE_ARRAY without a text type);
 * - `JsonText`: a Parquet JSON value, as its text; `Interval`: a Parquet INTERVAL; `MapValue`: a Parquet MAP;
 * - lists (arrays) and objects (records, structs) of these.
 */
export type Value = null | boolean | number | bigint | string | Float32 | Decimal | Date | Uint8Array | JsonText | Interval | MapValue | Value[] | Fields;

/** A record's fields, in order. */
export type Fields = { [name: string]: Value };

/** A single-precision float (Parquet FLOAT): 0.1 as a FLOAT is 0.1, not the double 0.10000000149011612 it widens to. */
export class Float32 {
    constructor(readonly value: number) {}

    /** The shortest text that reads back as this single (as a double's text is for a double). */
    toString(): string {
        if (!Number.isFinite(this.value)) return String(this.value);
        if (Object.is(this.value, -0)) return "-0";
        for (let digits = 1; digits < 9; digits++) {
            const text = String(Number(this.value.toPrecision(digits)));
            if (Math.fround(Number(text)) === this.value) return text;
        }
        return String(this.value);
    }
}

/** An exact decimal: `unscaled` × 10^-`scale`. */
export class Decimal {
    constructor(readonly unscaled: bigint, readonly scale: number) {}

    /** Its exact text, as JSON writes a number: `-1.15`, `0.001`, `1000`. */
    toString(): string {
        // a number like 1e400 is written as its exponent, not as 400 digits (nor 10^9 of them)
        if (this.scale < -100 || this.scale > 1000) return `${this.unscaled}e${-this.scale}`;
        if (this.scale <= 0) return (this.unscaled * 10n ** BigInt(-this.scale)).toString();
        const digits = (this.unscaled < 0n ? -this.unscaled : this.unscaled).toString().padStart(this.scale + 1, "0");
        return `${this.unscaled < 0n ? "-" : ""}${digits.slice(0, -this.scale)}.${digits.slice(-this.scale)}`;
    }

    /** The same value at another scale, or undefined when that scale cannot hold it exactly. */
    rescale(scale: number): Decimal | undefined {
        if (Math.abs(scale - this.scale) > 1000) return undefined;
        if (scale >= this.scale) return new Decimal(this.unscaled * 10n ** BigInt(scale - this.scale), scale);
        const factor = 10n ** BigInt(this.scale - scale);
        return this.unscaled % factor === 0n ? new Decimal(this.unscaled / factor, scale) : undefined;
    }
}

/** A JSON value stored as text (a Parquet JSON column): kept as its bytes say, never re-serialized. */
export class JsonText {
    private valid: boolean | undefined;

    constructor(readonly text: string) {}

    /** Its text on one line, for a JSON document; a ValueError when the text is not JSON. */
    get json(): string {
        this.valid ??= isJson(this.text);
        if (!this.valid) throw new ValueError("a JSON value that is not valid JSON");
        return oneLine(this.text.trim());
    }
}

function isJson(text: string): boolean {
    try {
        JSON.parse(text);
        return true;
    } catch {
        return false;
    }
}

/** A Parquet INTERVAL: months, days and milliseconds, each counted on its own. */
export class Interval {
    constructor(readonly months: number, readonly days: number, readonly milliseconds: number) {}
}

/** A Parquet MAP: its entries in their order, keys of any type. */
export class MapValue {
    constructor(readonly entries: readonly (readonly [Value, Value])[]) {}
}

/** A value that cannot be written as it is in some format or column: the row becomes an error row that says why. */
export class ValueError extends Error {
    override name = "ValueError";
}

/** A value an output cannot write as it is: a ValueError, or a value nested deeper than writing it can go. */
export function isValueProblem(error: unknown): error is Error {
    return error instanceof ValueError || error instanceof RangeError;
}

export function isFields(value: Value | undefined): value is Fields {
    return typeof value === "object" && value !== null && !Array.isArray(value) && Object.getPrototypeOf(value) === Object.prototype;
}

/**
 * A value as JSON text, exactly: integers and decimals with all their digits, bytes as base64, dates as ISO text,
 * a JSON value as its own text, an interval as `{"months","days","milliseconds"}`, a map as an object keyed by each
 * key's text. A double JSON cannot hold (NaN, ±Infinity) is a ValueError: it is never written as something else.
 * `lenient`: for a text that only identifies a value (resume records), such a double is written as its name.
 */
export function jsonText(value: Value, lenient = false): string {
    const inner = (v: Value) => jsonText(v, lenient);
    if (value === null) return "null";
    switch (typeof value) {
        case "string":
            return JSON.stringify(value); // a lone surrogate stays an escape: JSON text is ASCII-safe for it
        case "number":
            if (Object.is(value, -0)) return "-0";
            if (!Number.isFinite(value)) {
                if (lenient) return String(value);
                throw new ValueError(`${value} cannot be written as JSON`);
            }
            return JSON.stringify(value);
        case "bigint":
            return value.toString();
        case "boolean":
            return value ? "true" : "false";
    }
    if (Array.isArray(value)) return `[${value.map(inner).join(",")}]`;
    if (value instanceof Float32) return Number.isFinite(value.value) || lenient ? value.toString() : inner(value.value);
    if (value instanceof Decimal) return value.toString();
    if (value instanceof Uint8Array) return JSON.stringify(base64(value));
    if (value instanceof Date) return JSON.stringify(value.toISOString());
    if (value instanceof JsonText) return lenient ? value.text : value.json;
    if (value instanceof Interval) return `{"months":${value.months},"days":${value.days},"milliseconds":${value.milliseconds}}`;
    if (value instanceof MapValue) return `{${value.entries.map(([key, v]) => `${JSON.stringify(keyText(key))}:${inner(v)}`).join(",")}}`;
    return `{${Object.entries(value).map(([key, v]) => `${JSON.stringify(key)}:${inner(v)}`).join(",")}}`;
}

/** A value as the text of a CSV/TSV cell: empty for null, a string as it is, anything else as its JSON text. */
export function cellText(value: Value): string {
    if (value === null) return "";
    if (typeof value === "string") return wellFormed(value);
    if (typeof value === "number" && !Number.isFinite(value)) return String(value); // NaN, Infinity: as pandas reads them
    if (Object.is(value, -0)) return "-0";
    if (value instanceof Float32) return value.toString();
    if (value instanceof Uint8Array) return base64(value);
    if (value instanceof Date) return value.toISOString();
    if (value instanceof JsonText) return wellFormed(value.text);
    return jsonText(value);
}

const loneSurrogate = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/;

/**
 * A string as UTF-8 can carry it: a lone surrogate (JSON text may escape one, `"\ud800"`) has no UTF-8 form, and a
 * writer would put U+FFFD in its place; it is a ValueError instead.
 */
export function wellFormed(text: string): string {
    const at = loneSurrogate.exec(text);
    if (at === null) return text;
    throw new ValueError(`a lone surrogate (\\u${at[0].charCodeAt(0).toString(16)}) has no UTF-8 form`);
}

/** A map key as an object key: a string as it is, any other key as its JSON text. */
function keyText(key: Value): string {
    return typeof key === "string" ? key : cellText(key);
}

function base64(bytes: Uint8Array): string {
    return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString("base64");
}

/**
 * JSON text on one line. JSON strings cannot hold a raw line break, so every CR or LF, with the spaces and tabs
 * around it, lies between tokens and can go.
 */
export function oneLine(text: string): string {
    return text.replace(/[ \t]*[\r\n][ \t\r\n]*/g, "");
}
