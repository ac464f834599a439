import type { FileMetaData, SchemaElement, SchemaTree } from "hyparquet";
import { Decimal, Float32, Interval, isFields, JsonText, MapValue, ValueError, wellFormed, type Fields, type Value } from "./values.js";

/**
 * Parquet values, exactly. hyparquet reads the physical values (the logical types taken off the schema it is given,
 * see `physicalMetadata`) and nests them (lists, structs, the entries of a map); this module types them from the
 * file's own schema (values.ts), and back: hyparquet-writer is given physical values and a schema without logical
 * types (`physicalSchema`), and the file's footer gets the real one. Nothing is converted through a double on the way.
 */

const day = 86_400_000;
/** The milliseconds from 1970 a JavaScript Date holds, either way. */
const maxDate = 8.64e15;
const utf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

/** The metadata with every logical type taken off the leaves, and map annotations off their groups. */
export function physicalMetadata(metadata: FileMetaData): FileMetaData {
    const renamed = metadata.schema.some((element) => rawName(element.name) !== element.name);
    return {
        ...metadata,
        schema: metadata.schema.map((element) => {
            const physical = element.type !== undefined || isMap(element) ? bare(element) : element;
            return { ...physical, name: rawName(physical.name) };
        }),
        // the column chunks name their column by the path of names in the schema: renamed likewise
        row_groups: !renamed ? metadata.row_groups : metadata.row_groups.map((group) => ({
            ...group,
            columns: group.columns.map((chunk) => chunk.meta_data === undefined ? chunk
                : { ...chunk, meta_data: { ...chunk.meta_data, path_in_schema: chunk.meta_data.path_in_schema.map(rawName) } }),
        })),
    };
}

/**
 * The name hyparquet reads a column or field under: `__proto__` would set the prototype of the object it builds
 * (and be lost), so it reads it under another name.
 */
export function rawName(name: string): string {
    return name === "__proto__" ? "__proto__\u0000" : name;
}

/** Sets a field, also one named `__proto__` (a field like any other in a record). */
export function setField(fields: Fields, name: string, value: Value): void {
    if (name === "__proto__") Object.defineProperty(fields, name, { value, writable: true, enumerable: true, configurable: true });
    else fields[name] = value;
}

/** The schema hyparquet-writer encodes with: leaves physical only; lists and maps annotated the way it reads them. */
export function physicalSchema(schema: readonly SchemaElement[]): SchemaElement[] {
    return schema.map((element) => {
        if (element.type !== undefined) return bare(element);
        if (isMap(element)) return { ...bare(element), converted_type: "MAP" };
        if (isList(element)) return { ...bare(element), converted_type: "LIST" };
        return bare(element);
    });
}

function bare(element: SchemaElement): SchemaElement {
    const { converted_type: _c, logical_type: _l, ...rest } = element;
    return rest;
}

function isMap(element: SchemaElement): boolean {
    return element.converted_type === "MAP" || element.converted_type === "MAP_KEY_VALUE" || element.logical_type?.type === "MAP";
}

function isList(element: SchemaElement): boolean {
    return element.converted_type === "LIST" || element.logical_type?.type === "LIST";
}

/** As hyparquet nests a list: a group annotated LIST with one repeated child; the items are that child's one child, or the child. */
function listItem(tree: SchemaTree): SchemaTree | undefined {
    if (tree.element.converted_type !== "LIST" || tree.children.length !== 1) return undefined;
    const repeated = tree.children[0]!;
    if (repeated.element.repetition_type !== "REPEATED" || repeated.children.length > 1) return undefined;
    return repeated.children[0] ?? repeated;
}

/** A map's repeated group of key and value, as the file names them. */
function mapEntries(tree: SchemaTree): { group: SchemaTree; key: SchemaTree; value: SchemaTree } | undefined {
    if (!isMap(tree.element) || tree.children.length !== 1) return undefined;
    const group = tree.children[0]!;
    if (group.children.length !== 2) return undefined;
    return { group, key: group.children[0]!, value: group.children[1]! };
}

const scale = (e: SchemaElement) => e.scale ?? (e.logical_type?.type === "DECIMAL" ? e.logical_type.scale : 0);
const isDecimal = (e: SchemaElement) => e.converted_type === "DECIMAL" || e.logical_type?.type === "DECIMAL";
const isString = (e: SchemaElement) => e.converted_type === "UTF8" || e.converted_type === "ENUM" || e.logical_type?.type === "STRING" || e.logical_type?.type === "ENUM";
const isJson = (e: SchemaElement) => e.converted_type === "JSON" || e.logical_type?.type === "JSON";
const isUnsigned = (e: SchemaElement) => /^UINT_/.test(e.converted_type ?? "") || (e.logical_type?.type === "INTEGER" && !e.logical_type.isSigned);
const isMillis = (e: SchemaElement) => e.converted_type === "TIMESTAMP_MILLIS" || (e.logical_type?.type === "TIMESTAMP" && e.logical_type.unit === "MILLIS");
const isDate = (e: SchemaElement) => e.converted_type === "DATE" || e.logical_type?.type === "DATE";

/** A human name for a column's type, for messages: `DECIMAL(10,2)`, `INT64`, `LIST`. */
export function typeName(e: SchemaElement): string {
    if (isDecimal(e)) return `DECIMAL(${e.precision ?? (e.logical_type as { precision?: number } | undefined)?.precision ?? "?"},${scale(e)})`;
    return e.logical_type?.type ?? e.converted_type ?? e.type ?? "group";
}

/**
 * A value as read (physical, nested) typed by its column's schema. Throws ValueError for a value the schema says is
 * text but is not UTF-8, so that the row is an error row, as the same bytes in JSONL make one.
 */
export function readValue(tree: SchemaTree, raw: unknown): Value {
    if (raw === undefined || raw === null) return null;
    const e = tree.element;
    if (tree.children.length === 0) return readLeaf(e, raw);
    const item = listItem(tree);
    if (item !== undefined) return (raw as unknown[]).map((v) => readValue(item, v));
    const map = mapEntries(tree);
    if (map !== undefined) {
        const entries = ((raw as Record<string, unknown>)[rawName(map.group.element.name)] ?? []) as Record<string, unknown>[];
        return new MapValue(entries.map((entry) => [readValue(map.key, entry[rawName(map.key.element.name)]), readValue(map.value, entry[rawName(map.value.element.name)])] as const));
    }
    const fields: Fields = {};
    for (const child of tree.children) setField(fields, child.element.name, readValue(child, (raw as Record<string, unknown>)[rawName(child.element.name)]));
    return fields;
}

function readLeaf(e: SchemaElement, raw: unknown): Value {
    switch (e.type) {
        case "BOOLEAN":
        case "DOUBLE":
            return raw as boolean | number;
        case "FLOAT":
            return new Float32(raw as number);
        case "INT32": {
            const v = raw as number;
            if (isDecimal(e)) return new Decimal(BigInt(v), scale(e));
            // a date a JavaScript Date cannot hold (past year 275760) stays its count of days
            if (isDate(e)) return Math.abs(v * day) <= maxDate ? new Date(v * day) : v;
            return isUnsigned(e) ? v >>> 0 : v;
        }
        case "INT64": {
            const v = raw as bigint;
            if (isDecimal(e)) return new Decimal(v, scale(e));
            if (isMillis(e)) return v >= -maxDate && v <= maxDate ? new Date(Number(v)) : v;
            return isUnsigned(e) ? BigInt.asUintN(64, v) : v; // micro- and nanosecond times and timestamps: their count
        }
        case "INT96": {
            // Julian day in the high 32 bits, nanoseconds of the day in the low 64: nanoseconds since 1970, as a count
            const v = raw as bigint;
            return ((v >> 64n) - 2_440_588n) * 86_400_000_000_000n + (v & 0xffff_ffff_ffff_ffffn);
        }
        default: {
            const bytes = raw as Uint8Array;
            if (isDecimal(e)) return new Decimal(signed(bytes), scale(e));
            if (isString(e) || isJson(e)) {
                let text: string;
                try {
                    text = utf8.decode(bytes);
                } catch {
                    throw new ValueError("not valid UTF-8 text");
                }
                return isJson(e) ? new JsonText(text) : text;
            }
            const logical = e.logical_type?.type;
            if (logical === "UUID") return uuid(bytes);
            if (e.converted_type === "INTERVAL" || logical === "INTERVAL") {
                const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
                return new Interval(view.getUint32(0, true), view.getUint32(4, true), view.getUint32(8, true));
            }
            if (logical === "FLOAT16") return float16(bytes);
            return bytes;
        }
    }
}

/**
 * A typed value as the physical value hyparquet-writer writes for this column (`tree`, with its logical types), or
 * a ValueError that says why it cannot be written there exactly.
 */
export function writeValue(tree: SchemaTree, value: Value): unknown {
    const e = tree.element;
    if (value === null) {
        if (e.repetition_type === "REQUIRED") throw new ValueError(`${e.name} is required, and the value is null`);
        return null;
    }
    if (tree.children.length === 0) return writeLeaf(e, value);
    const item = listItem(tree);
    if (item !== undefined) {
        if (!Array.isArray(value)) throw unfit(value, e);
        return value.map((v) => writeValue(item, v));
    }
    const map = mapEntries(tree);
    if (map !== undefined) {
        const entries = value instanceof MapValue ? value.entries : isFields(value) ? Object.entries(value) : undefined;
        if (entries === undefined) throw unfit(value, e);
        return entries.map(([k, v]) => ({ key: writeValue(map.key, k), value: writeValue(map.value, v) }));
    }
    if (!isFields(value)) throw unfit(value, e);
    const names = new Set(tree.children.map((child) => child.element.name));
    const stray = Object.keys(value).find((name) => !names.has(name));
    if (stray !== undefined) throw new ValueError(`field "${stray}" has no place in ${e.name} (a struct of ${[...names].join(", ")})`);
    return Object.fromEntries(tree.children.map((child) => [child.element.name, writeValue(child, value[child.element.name] ?? null)]));
}

function writeLeaf(e: SchemaElement, value: Value): unknown {
    switch (e.type) {
        case "BOOLEAN":
            if (typeof value === "boolean") return value;
            break;
        case "FLOAT": {
            const n = value instanceof Float32 ? value.value : value;
            if (typeof n === "number" && (Number.isNaN(n) || Math.fround(n) === n)) return n;
            break;
        }
        case "DOUBLE":
            if (typeof value === "number") return value;
            if (value instanceof Float32) return value.value;
            break;
        case "INT32": {
            if (isDecimal(e)) return Number(unscaled(value, e, 32));
            if (isDate(e) && value instanceof Date && value.getTime() % day === 0) return value.getTime() / day;
            const n = integer(value);
            if (n === undefined) break;
            if (isUnsigned(e) ? n >= 0n && n < 2n ** 32n : BigInt.asIntN(32, n) === n) return Number(BigInt.asIntN(32, n));
            break;
        }
        case "INT64": {
            if (isDecimal(e)) return unscaled(value, e, 64);
            if (isMillis(e) && value instanceof Date) return BigInt(value.getTime());
            const n = integer(value);
            if (n === undefined) break;
            if (isUnsigned(e) ? n >= 0n && n < 2n ** 64n : BigInt.asIntN(64, n) === n) return BigInt.asIntN(64, n);
            break;
        }
        case "INT96": {
            const n = integer(value);
            if (n === undefined) break;
            const days = n / 86_400_000_000_000n - (n % 86_400_000_000_000n < 0n ? 1n : 0n);
            return ((days + 2_440_588n) << 64n) | (n - days * 86_400_000_000_000n);
        }
        default: {
            if (isDecimal(e)) return twosComplement(unscaled(value, e, e.type === "FIXED_LEN_BYTE_ARRAY" ? 8 * e.type_length! : Infinity), e.type_length);
            if (isString(e) && typeof value === "string") return Buffer.from(wellFormed(value), "utf8");
            if (isJson(e)) {
                if (value instanceof JsonText) return Buffer.from(wellFormed(value.text), "utf8");
                break;
            }
            const logical = e.logical_type?.type;
            if (logical === "UUID" && typeof value === "string" && /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i.test(value))
                return Buffer.from(value.replace(/-/g, ""), "hex");
            if ((e.converted_type === "INTERVAL" || logical === "INTERVAL") && value instanceof Interval) {
                const bytes = Buffer.alloc(12);
                bytes.writeUInt32LE(value.months, 0);
                bytes.writeUInt32LE(value.days, 4);
                bytes.writeUInt32LE(value.milliseconds, 8);
                return bytes;
            }
            if (logical === "FLOAT16" && typeof value === "number") {
                const bytes = toFloat16(value);
                if (bytes !== undefined) return bytes;
                break;
            }
            if (!isString(e) && logical === undefined && e.converted_type === undefined && value instanceof Uint8Array &&
                (e.type !== "FIXED_LEN_BYTE_ARRAY" || value.length === e.type_length)) return value;
        }
    }
    throw unfit(value, e);
}

function unfit(value: Value, e: SchemaElement): ValueError {
    const shown = typeof value === "string" ? JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value) : describe(value);
    return new ValueError(`${shown} does not fit column ${e.name} (${typeName(e)})`);
}

function describe(value: Value): string {
    if (value instanceof Decimal || value instanceof Float32) return value.toString();
    if (typeof value === "number" || typeof value === "bigint" || typeof value === "boolean") return String(value);
    if (Array.isArray(value)) return "a list";
    if (value instanceof Uint8Array) return "bytes";
    if (value instanceof Date) return value.toISOString();
    return "a nested value";
}

/** An integer value (a whole double, a bigint, a decimal without fraction) as a bigint; undefined for anything else. */
function integer(value: Value): bigint | undefined {
    if (typeof value === "bigint") return value;
    if (typeof value === "number" && Number.isInteger(value)) return BigInt(value);
    if (value instanceof Decimal) return value.rescale(0)?.unscaled;
    return undefined;
}

/** The unscaled integer of a value at the column's scale, when it holds exactly and fits `bits` (two's complement). */
function unscaled(value: Value, e: SchemaElement, bits: number): bigint {
    const exact = value instanceof Decimal ? value
        : typeof value === "bigint" ? new Decimal(value, 0)
        : typeof value === "number" && Number.isFinite(value) ? decimalOfDouble(value) : undefined;
    const at = exact?.rescale(scale(e));
    const precision = e.precision ?? (e.logical_type as { precision?: number } | undefined)?.precision;
    const digits = at === undefined ? 0 : (at.unscaled < 0n ? -at.unscaled : at.unscaled).toString().length;
    if (at === undefined || (precision !== undefined && digits > precision) || (bits !== Infinity && BigInt.asIntN(bits, at.unscaled) !== at.unscaled))
        throw unfit(value, e);
    return at.unscaled;
}

/** The decimal a double prints as (its shortest round-trip text): 1.15 is 115 × 10^-2. */
function decimalOfDouble(value: number): Decimal {
    const [mantissa = "0", exponent = "0"] = String(value).split("e");
    const [whole = "0", fraction = ""] = mantissa.split(".");
    return new Decimal(BigInt(`${whole}${fraction}`), fraction.length - Number(exponent));
}

function signed(bytes: Uint8Array): bigint {
    let v = 0n;
    for (const byte of bytes) v = (v << 8n) | BigInt(byte);
    return bytes.length === 0 ? 0n : BigInt.asIntN(bytes.length * 8, v);
}

/** Big-endian two's complement: `length` bytes, or the fewest that hold the value (BYTE_ARRAY decimals). */
function twosComplement(v: bigint, length: number | undefined): Uint8Array {
    let n = length ?? 1;
    if (length === undefined) while (BigInt.asIntN(8 * n, v) !== v) n++;
    const bytes = new Uint8Array(n);
    let rest = BigInt.asUintN(8 * n, v);
    for (let i = n - 1; i >= 0; i--, rest >>= 8n) bytes[i] = Number(rest & 0xffn);
    return bytes;
}

function uuid(bytes: Uint8Array): string {
    const hex = Buffer.from(bytes).toString("hex");
    return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

function float16(bytes: Uint8Array): number {
    const bits = bytes[0]! | (bytes[1]! << 8);
    const sign = bits >> 15 ? -1 : 1, exponent = (bits >> 10) & 0x1f, fraction = bits & 0x3ff;
    if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
    if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
    return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

let halves: Map<number, number> | undefined;

/** A number as half-precision bytes, when it is one exactly (every half, by value, found once). */
function toFloat16(value: number): Uint8Array | undefined {
    if (halves === undefined) {
        halves = new Map();
        for (let bits = 0xffff; bits >= 0; bits--) halves.set(float16(new Uint8Array([bits & 0xff, bits >> 8])), bits);
        halves.set(0, 0); // +0, not -0: a Map key does not tell them apart
    }
    const bits = Object.is(value, -0) ? 0x8000 : halves.get(value);
    return bits === undefined ? undefined : new Uint8Array([bits & 0xff, bits >> 8]);
}
