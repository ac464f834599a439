import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { deserialize, serialize } from "node:v8";
import { exitCodes, NemoError } from "../errors.js";
import { Decimal, Float32, Interval, JsonText, MapValue, type Value } from "../records/values.js";

/**
 * Entries held on disk rather than in memory, read back in order once: a file in the system's temporary folder
 * ($TMPDIR), removed from its folder as soon as it is opened, so that nothing is left behind however the process ends
 * (SIGKILL too). Each entry is a structured clone (node:v8) with the typed values (values.ts) kept as they are.
 */
export class Spill {
    private readonly fd: number;
    private written = 0;
    private buffered: Buffer[] = [];
    private bufferedBytes = 0;
    /** Entries written. */
    count = 0;

    constructor() {
        this.fd = anonymousFile();
    }

    /** Adds an entry; returns its size on disk. */
    write(entry: unknown): number {
        const bytes = serialize(tagged(entry));
        const length = Buffer.alloc(4);
        length.writeUInt32LE(bytes.length);
        this.buffered.push(length, bytes);
        this.bufferedBytes += 4 + bytes.length;
        this.count++;
        if (this.bufferedBytes >= 1 << 20) this.flush();
        return bytes.length;
    }

    /** The entries, in the order written, with each one's size on disk. */
    *read(): Generator<{ entry: unknown; size: number }> {
        this.flush();
        let chunk = Buffer.alloc(0);
        let at = 0;
        const take = (n: number): Buffer => {
            if (chunk.length < n) {
                const more = Buffer.alloc(Math.max(n - chunk.length, 1 << 20));
                const read = readSync(this.fd, more, 0, Math.min(more.length, this.written - at), at);
                at += read;
                chunk = Buffer.concat([chunk, more.subarray(0, read)]);
            }
            const bytes = chunk.subarray(0, n);
            chunk = chunk.subarray(n);
            return bytes;
        };
        for (let i = 0; i < this.count; i++) {
            const size = take(4).readUInt32LE(0);
            yield { entry: untagged(deserialize(take(size))), size };
        }
    }

    close(): void {
        this.buffered = [];
        closeSync(this.fd);
    }

    private flush(): void {
        if (this.bufferedBytes === 0) return;
        const bytes = Buffer.concat(this.buffered);
        this.buffered = [];
        this.bufferedBytes = 0;
        writeTemporary(this.fd, bytes, this.written, "rows held until every column's type is known");
        this.written += bytes.length;
    }
}

/**
 * A new file in the system's temporary folder ($TMPDIR), open for reading and writing, and already removed from its
 * folder: it lives as long as its descriptor, however the process ends (SIGKILL too).
 */
export function anonymousFile(): number {
    const folder = mkdtempSync(join(tmpdir(), "nemoreward-"));
    try {
        return openSync(join(folder, "data"), "w+");
    } finally {
        rmSync(folder, { recursive: true, force: true });
    }
}

/** Writes every byte at `position` of an anonymous file; a failure (a full disk) is one line saying what it held. */
export function writeTemporary(fd: number, bytes: Uint8Array, position: number, what: string): void {
    try {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    } catch (error) {
        throw new NemoError(`cannot write a temporary file in ${tmpdir()} (${what}): ${(error as Error).message}`, exitCodes.failure, { cause: error });
    }
}

// The typed values' classes travel as native Maps of one entry (a record never holds a Map: a Parquet MAP is a MapValue).
function tagged(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map(tagged);
    if (value instanceof Decimal) return new Map([["Decimal", [value.unscaled, value.scale]]]);
    if (value instanceof Float32) return new Map([["Float32", value.value]]);
    if (value instanceof JsonText) return new Map([["JsonText", value.text]]);
    if (value instanceof Interval) return new Map([["Interval", [value.months, value.days, value.milliseconds]]]);
    if (value instanceof MapValue) return new Map([["MapValue", value.entries.map(([k, v]) => [tagged(k), tagged(v)])]]);
    if (value instanceof Uint8Array || value instanceof Date) return value;
    const plain: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(value)) Object.defineProperty(plain, name, { value: tagged(v), writable: true, enumerable: true, configurable: true });
    return plain;
}

function untagged(value: unknown): unknown {
    if (value === null || typeof value !== "object") return value;
    if (Array.isArray(value)) return value.map(untagged);
    if (value instanceof Map) {
        const [[tag, v]] = [...value] as [[string, any]];
        switch (tag) {
            case "Decimal": return new Decimal(v[0], v[1]);
            case "Float32": return new Float32(v);
            case "JsonText": return new JsonText(v);
            case "Interval": return new Interval(v[0], v[1], v[2]);
            default: return new MapValue((v as [unknown, unknown][]).map(([k, x]) => [untagged(k) as Value, untagged(x) as Value] as const));
        }
    }
    if (value instanceof Uint8Array || value instanceof Date) return value;
    const plain: Record<string, unknown> = {};
    for (const [name, v] of Object.entries(value)) Object.defineProperty(plain, name, { value: untagged(v), writable: true, enumerable: true, configurable: true });
    return plain;
}
