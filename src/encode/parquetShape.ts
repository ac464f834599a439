import type { SchemaElement } from "hyparquet";
import { isFields, type Value } from "../records/values.js";

/**
 * The type a column of JSON (or CSV) input needs to hold every value of every row exactly, widened row by row:
 * integers and doubles make doubles (when every integer is one exactly), lists of a shape a list of it, objects of
 * the same keys a struct; anything else mixed, or a value only JSON text holds exactly (a decimal, an integer past
 * 2^53 beside doubles, an integer past 64 bits), makes the column JSON text. Never narrower than a value: no value is
 * ever written as null or as another number.
 */
export type Shape =
    | { kind: "null" }
    | { kind: "boolean" }
    | { kind: "string" }
    /** `inexact`: some value is a bigint (no double holds it); `wide`: some value is past 64 bits (a double holds it). */
    | { kind: "integer"; inexact: boolean; wide: boolean }
    | { kind: "double" }
    | { kind: "list"; item: Shape }
    | { kind: "struct"; fields: Map<string, Shape> }
    | { kind: "json" };

const json: Shape = { kind: "json" };
const none: Shape = { kind: "null" };

/** The shape of one value. */
export function shapeOf(value: Value): Shape {
    if (value === null) return none;
    switch (typeof value) {
        case "boolean": return { kind: "boolean" };
        case "string": return { kind: "string" };
        case "number":
            if (!Number.isInteger(value) || Object.is(value, -0)) return { kind: "double" }; // -0: a double's sign
            return { kind: "integer", inexact: false, wide: BigInt.asIntN(64, BigInt(value)) !== BigInt(value) };
        case "bigint": return { kind: "integer", inexact: true, wide: BigInt.asIntN(64, value) !== value };
    }
    if (Array.isArray(value)) return { kind: "list", item: value.reduce<Shape>((shape, item) => widen(shape, shapeOf(item)), none) };
    if (isFields(value)) {
        const names = Object.keys(value);
        // a struct has at least one field; `{}` is kept as JSON text
        return names.length === 0 ? json : { kind: "struct", fields: new Map(names.map((name) => [name, shapeOf(value[name]!)])) };
    }
    return json; // decimals, and values only Parquet input has (its rows keep their own columns)
}

/** The narrowest shape that holds the values of both. */
export function widen(a: Shape | undefined, b: Shape): Shape {
    if (a === undefined || a.kind === "null") return b;
    if (b.kind === "null") return a;
    if (a.kind === "json" || b.kind === "json") return json;
    if (a.kind === "integer" && b.kind === "integer") return { kind: "integer", inexact: a.inexact || b.inexact, wide: a.wide || b.wide };
    if ((a.kind === "integer" && b.kind === "double") || (a.kind === "double" && b.kind === "integer")) {
        const integer = a.kind === "integer" ? a : b as Extract<Shape, { kind: "integer" }>;
        return integer.inexact ? json : { kind: "double" };
    }
    if (a.kind === "list" && b.kind === "list") {
        const item = widen(a.item, b.item);
        return item.kind === "json" ? json : { kind: "list", item };
    }
    if (a.kind === "struct" && b.kind === "struct") {
        if (a.fields.size !== b.fields.size || [...b.fields.keys()].some((name) => !a.fields.has(name))) return json;
        const fields = new Map<string, Shape>();
        for (const [name, shape] of a.fields) {
            const wider = widen(shape, b.fields.get(name)!);
            if (wider.kind === "json") return json;
            fields.set(name, wider);
        }
        return { kind: "struct", fields };
    }
    return a.kind === b.kind ? a : json;
}

const optional = (name: string, element: Omit<SchemaElement, "name">): SchemaElement => ({ name, repetition_type: "OPTIONAL", ...element });

/**
 * A column's schema elements (depth first) for a shape; JSON text when any part of it is: a struct field or a list
 * item is never JSON inside a typed column. Undefined shape or only nulls: a string column.
 */
export function shapeElements(name: string, shape: Shape | undefined): { elements: SchemaElement[]; json: boolean } {
    const typed = typedElements(name, shape ?? none);
    return typed === undefined ? { elements: [optional(name, { type: "BYTE_ARRAY", converted_type: "JSON" })], json: true } : { elements: typed, json: false };
}

function typedElements(name: string, shape: Shape): SchemaElement[] | undefined {
    switch (shape.kind) {
        case "null":
        case "string": return [optional(name, { type: "BYTE_ARRAY", converted_type: "UTF8" })];
        case "boolean": return [optional(name, { type: "BOOLEAN" })];
        case "double": return [optional(name, { type: "DOUBLE" })];
        case "integer":
            if (!shape.wide) return [optional(name, { type: "INT64" })];
            return shape.inexact ? undefined : [optional(name, { type: "DOUBLE" })];
        case "json": return undefined;
        case "list": {
            const item = typedElements("element", shape.item);
            if (item === undefined) return undefined;
            return [optional(name, { num_children: 1, converted_type: "LIST" }), { name: "list", repetition_type: "REPEATED", num_children: 1 }, ...item];
        }
        case "struct": {
            const children: SchemaElement[][] = [];
            for (const [field, inner] of shape.fields) {
                const elements = typedElements(field, inner);
                if (elements === undefined) return undefined;
                children.push(elements);
            }
            return [optional(name, { num_children: children.length }), ...children.flat()];
        }
    }
}
