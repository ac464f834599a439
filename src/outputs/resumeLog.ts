import { closeSync, createReadStream, openSync, readSync, statSync } from "node:fs";
import { createHash } from "node:crypto";
import { UsageError } from "../errors.js";

/** The version of the `.resume` record: rows recorded by another version are not read (their hashes differ). */
const version = 2;

/** What the text of a row depends on: a resumed file is never finished with other settings. */
export type ResumeSettings = Record<string, string | number | boolean>;

/** A short fingerprint of an input row (records/row.ts rowIdentity), for matching a resumed run to its input. */
export function rowHash(identity: string): string {
    return createHash("sha1").update(identity).digest("hex").slice(0, 16);
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
};

/**
 * Reads `logPath` (FILE.resume) for `--resume`: checks its header against this run's settings, and counts its records
 * by streaming it. Lines are `HASH END` or `HASH END e` (an error row); only complete lines (ending in a newline) count.
 */
export async function inspectRecord(logPath: string, settings: ResumeSettings, shown: string): Promise<Recorded> {
    const header = firstLine(logPath);
    const expected = resumeHeader(settings);
    if (header !== expected) throw settingsChanged(header, settings, shown, logPath);
    let rows = 0, failed = 0, end = 0, logEnd = Buffer.byteLength(header) + 1, at = 0, lines = 0;
    let line: Buffer[] = [];
    for await (const chunk of createReadStream(logPath) as AsyncIterable<Buffer>) {
        let start = 0;
        for (let newline = chunk.indexOf(10); newline !== -1; newline = chunk.indexOf(10, start)) {
            line.push(chunk.subarray(start, newline));
            if (lines++ > 0) {
                const [hash, offset, flag] = Buffer.concat(line).toString("latin1").split(" ");
                if (hash === undefined || offset === undefined || !/^\d+$/.test(offset))
                    throw new UsageError(`${logPath} is damaged at record ${rows + 1}: remove ${shown} and ${logPath} to start over`);
                rows++;
                if (flag === "e") failed++;
                end = Number(offset);
                logEnd = at + newline + 1;
            }
            line = [];
            start = newline + 1;
        }
        if (start < chunk.length) line.push(chunk.subarray(start));
        at += chunk.length;
    }
    return { rows, failed, end, logEnd };
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
            const [hash, , flag] = line.split(" ");
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
