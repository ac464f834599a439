import { getHeapStatistics } from "node:v8";

/**
 * How many bytes of values one batch of rows may hold: a slice of a Parquet row group read, a row group written.
 * A sixty-fourth of the JavaScript heap, between 512 KiB and 64 MiB: large groups on an ordinary heap, and room to
 * spare under a small `--max-old-space-size`, where a batch costs several times its values (objects, arrays, the
 * encoder's copies).
 */
export function batchBytes(): number {
    return Math.min(64 * 1024 * 1024, Math.max(512 * 1024, Math.floor(getHeapStatistics().heap_size_limit / 64)));
}

/** About how many bytes of heap a value of a record takes: text in UTF-16, objects and arrays with their slots. */
export function sizeOf(value: unknown): number {
    if (typeof value === "string") return 16 + 2 * value.length;
    if (value === null || typeof value !== "object") return 16;
    if (value instanceof Uint8Array) return 64 + value.length;
    if (Array.isArray(value)) return value.reduce((n: number, v) => n + 8 + sizeOf(v), 32);
    if (value instanceof Map) return [...value].reduce((n: number, [k, v]) => n + sizeOf(k) + sizeOf(v), 32);
    return Object.values(value).reduce((n: number, v) => n + 16 + sizeOf(v), 32);
}
