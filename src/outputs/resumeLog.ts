import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { createHash, hash, type Hash } from "node:crypto";
import { crc32 } from "node:zlib";
import { UsageError } from "../errors.js";

/** The version of the `.resume` record: rows recorded by another version are not read (their hashes differ). */
const version = 3;

/** What the text of a row depends on: a resumed file is never finished with other settings. */
export type ResumeSettings = Record<string, string | number | boolean>;

/** A short fingerprint of an input row (records/row.ts rowIdentity), for matching a resumed run to its input. */
export function rowHash(identity: string): string {
    return hash("sha1", identity).slice(0, 16);
}

/**
 * The CRC-32 of FILE's bytes from its start, continued with `bytes`: each record line holds the one up to its row's
 * end, so that a resumed FILE is known to be the very file its record describes (not edited, not another shard's).
 */
export function continueCrc(crc: number, bytes: Uint8Array): number {
    return crc32(bytes, crc);
}

/** One record line: the input row's hash, where its text ends in FILE, the CRC-32 of FILE up to there, "e" for an error row. */
export function recordLine(row: string, end: number, crc: number, failed: boolean): string {
    return `${row} ${end} ${crc.toString(16).padStart(8, "0")}${failed ? " e" : ""}\n`;
}

/** The header line of a record written with these settings. */
export function resumeHeader(settings: ResumeSettings): string {
    return JSON.stringify({ nemoreward: version, ...settings });
}

/** What a `.resume` record holds, counted without holding it: a run of millions of rows resumes in flat memory. */
export type Recorded = {
    /** Rows recorded: FILE holds their text. */
    rows: number;
    /** Of them, rows that could not be scored (error rows): they count for the exit status of the resumed run. */
    failed: number;
    /** Where the text of the last recorded row ends in FILE. */
    end: number;
    /** Where the last complete record line ends: a torn line after it (a run killed mid-write) is cut. */
    logEnd: number;
    /** The CRC-32 of FILE's first `end` bytes, continued by the bytes a resumed run appends. */
    crc: number;
    /** SHA-256 of FILE's first `end` bytes, to be continued with the bytes a resumed run appends (for FILE.shard). */
    content: Hash;
};

/**
 * Reads `logPath` (FILE.resume) for `--resume`: checks its header against this run's settings, then each record
 * against FILE, streaming both (a run of millions of rows resumes in flat memory). Lines are `HASH END CRC` or
 * `HASH END CRC e` (an error row); only complete lines (ending in a newline) count. Refused: a line that is not a
 * record, an END before the one above it or past FILE's end, FILE's bytes up to END not those recorded (FILE edited,
 * or another file in its place).
 */
export async function inspectRecord(logPath: string, filePath: string, settings: ResumeSettings, shown: string): Promise<Recorded> {
    const header = firstLine(logPath);
    const expected = resumeHeader(settings);
    if (header !== expected) throw settingsChanged(header, settings, shown, logPath);
    const file = new FileBytes(filePath);
    try {
        let rows = 0, failed = 0, end = 0, logEnd = Buffer.byteLength(header) + 1, at = 0, lines = 0;
        let line: Buffer[] = [];
        const damaged = (why: string) => new UsageError(`${logPath} does not describe ${shown} at record ${rows + 1} (${why}): ` +
            `one of them was changed since; remove both to start over`);
        for await (const chunk of createReadStream(logPath) as AsyncIterable<Buffer>) {
            let start = 0;
            for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
                line.push(chunk.subarray(start, newline));
                if (lines++ > 0) {
                    const [row, offset, crc, flag, ...rest] = (line.length === 1 ? line[0]! : Buffer.concat(line)).toString("latin1").split(" ");
                    if (!recordFields.test(`${row} ${offset} ${crc}`) || (flag !== undefined && flag !== "e") || rest.length > 0) throw damaged("not a record line");
                    const next = Number(offset);
                    if (next < end) throw damaged(`its row ends at byte ${next}, before the row above it`);
                    if (next > file.size) throw damaged(`its row ends at byte ${next}, past the file's end at ${file.size}`);
                    if (file.crcTo(next) !== parseInt(crc!, 16)) throw damaged(`the bytes up to ${next} are not those it recorded`);
                    rows++;
                    if (flag === "e") failed++;
                    end = next;
                    logEnd = at + newline + 1;
                }
                line = [];
                start = newline + 1;
            }
            if (start < chunk.length) line.push(chunk.subarray(start));
            at += chunk.length;
        }
        return { rows, failed, end, logEnd, crc: file.crc, content: file.content };
    } finally {
        file.close();
    }
}

const recordFields = /^[0-9a-f]{16} \d+ [0-9a-f]{8}$/;

/** FILE read forward once, in large reads: its CRC-32 up to each END, and the SHA-256 of all of it. */
class FileBytes {
    readonly size: number;
    readonly content = createHash("sha256");
    crc = 0;
    private readonly fd: number;
    private readonly buffer = Buffer.alloc(1 << 20);
    private start = 0; // file position of buffer[0]
    private filled = 0;
    private at = 0;

    constructor(path: string) {
        this.fd = openSync(path, "r");
        this.size = statSync(path).size;
    }

    /** The CRC-32 of the bytes up to `end` (end >= the last END, <= size). */
    crcTo(end: number): number {
        while (this.at < end) {
            if (this.at >= this.start + this.filled) {
                this.start = this.at;
                this.filled = readSync(this.fd, this.buffer, 0, this.buffer.length, this.start);
                if (this.filled === 0) break;
            }
            const take = this.buffer.subarray(this.at - this.start, Math.min(this.filled, end - this.start));
            this.crc = continueCrc(this.crc, take);
            this.content.update(take);
            this.at += take.length;
        }
        return this.crc;
    }

    close(): void {
        closeSync(this.fd);
    }
}

/** Streams the hashes of the first `rows` records of `logPath`, in order, with whether each row failed. */
export async function* recordedRows(logPath: string, rows: number): AsyncIterable<{ hash: string; failed: boolean }> {
    if (rows === 0) return;
    let seen = -1; // the header line comes first
    let carry = "";
    for await (const chunk of createReadStream(logPath, { encoding: "latin1" }) as AsyncIterable<string>) {
        const lines = (carry + chunk).split("\n");
        carry = lines.pop()!;
        for (const line of lines) {
            if (seen++ < 0) continue;
            const [hash, , , flag] = line.split(" ");
            yield { hash: hash!, failed: flag === "e" };
            if (seen === rows) return;
        }
    }
}

/** The first line of a file (the record's header), read without reading the rest. */
function firstLine(path: string): string {
    const fd = openSync(path, "r");
    try {
        const size = statSync(path).size;
        const parts: Buffer[] = [];
        for (let at = 0; at < size; at += 1 << 16) {
            const bytes = Buffer.alloc(Math.min(1 << 16, size - at));
            readSync(fd, bytes, 0, bytes.length, at);
            const newline = bytes.indexOf(10);
            if (newline !== -1) {
                parts.push(bytes.subarray(0, newline));
                break;
            }
            parts.push(bytes);
        }
        return Buffer.concat(parts).toString("utf8");
    } finally {
        closeSync(fd);
    }
}

function settingsChanged(header: string, settings: ResumeSettings, shown: string, logPath: string): UsageError {
    let before: Record<string, unknown> = {};
    try {
        before = JSON.parse(header) as Record<string, unknown>;
    } catch { /* not ours: every setting differs */ }
    if (typeof before["nemoreward"] === "number" && before["nemoreward"] !== version)
        return new UsageError(`${shown} was written by another version of nemoreward (its ${logPath} record is version ${String(before["nemoreward"])}, ` +
            `not ${version}): remove ${shown} and ${logPath} to start over`);
    const changed = Object.entries(settings).filter(([key, value]) => before[key] !== value)
        .map(([key, value]) => `${key} ${JSON.stringify(before[key] ?? null)} → ${JSON.stringify(value)}`);
    return new UsageError(`${shown} was written with other settings (${changed.join(", ") || header}): ` +
        `resume with the same ones, or remove ${shown} and ${logPath} to start over`);
}
