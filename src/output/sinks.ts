import { closeSync, existsSync, ftruncateSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { createHash } from "node:crypto";
import type { Writable } from "node:stream";
import { UsageError } from "../errors.js";
import type { InputRow } from "../input/inputRow.js";
import { LineWriter } from "./lineWriter.js";
import { takeLock } from "./outputLock.js";
import type { Output } from "./formats.js";

/** Where finished rows go, in input order. */
export type Sink = {
    /** True once nobody reads any more (a closed pipe). */
    readonly closed: boolean;
    row(text: Output, input: InputRow, failed: boolean): Promise<void>;
    end(text: Output): Promise<void>;
    /** Lets go of the output whether or not it was ended (a run that failed); safe to call twice. */
    release(): void;
};

export function streamSink(stream: Writable): Sink {
    const lines = new LineWriter(stream);
    return {
        get closed() { return lines.closed; },
        row: (text) => lines.write(text),
        end: (text) => lines.write(text),
        release: () => undefined,
    };
}

/** A sink that writes nothing (eval without --per-row). */
export const nullSink: Sink = { closed: false, row: async () => undefined, end: async () => undefined, release: () => undefined };

/** A short fingerprint of an input row's text, for matching a resumed run to its input. */
export function rowHash(input: InputRow): string {
    return createHash("sha1").update(input.text).digest("hex").slice(0, 16);
}

type Done = { hash: string; end: number; failed: boolean };

/**
 * `-o FILE`: FILE is written and flushed row by row, and `FILE.resume` records, once a row's text is in FILE, the
 * row's input hash and where its output ends, so that any run can be resumed. A run killed at any moment (even
 * SIGKILL) leaves at worst one write more in FILE than in the record, or a torn last record line; `--resume` cuts FILE
 * back to the last recorded row, checks the recorded rows against the input, and appends the rest. The record stays
 * when the run is complete: resuming a complete file checks it and adds nothing, or adds the rows the input gained.
 * `FILE.lock` keeps a second run off FILE while one writes it.
 */
export class ResumeSink implements Sink {
    readonly closed = false;
    /** Rows FILE already holds: the run skips them after checking their hashes. */
    readonly done: Done[];
    private readonly out: number;
    private readonly log: number;
    private offset: number;
    /** Rows given to `row` whose text is not yet in FILE. */
    private waiting: { hash: string; failed: boolean }[] = [];

    private readonly unlock: () => void;

    /**
     * `settings`: what the rows' text depends on (format, model, reward field, ...); resuming with others is refused.
     * `resume`: continue FILE; otherwise it is written anew.
     */
    constructor(readonly path: string, settings: Record<string, string | number | boolean>, resume: boolean) {
        this.unlock = takeLock(path);
        try {
            ({ done: this.done, out: this.out, log: this.log, offset: this.offset } = ResumeSink.open(path, settings, resume));
        } catch (error) {
            this.unlock();
            throw error;
        }
    }

    private static open(path: string, settings: Record<string, string | number | boolean>, resume: boolean) {
        const logPath = `${path}.resume`;
        const header = JSON.stringify({ nemoreward: 1, ...settings });
        const done: Done[] = [];
        if (resume && existsSync(logPath)) {
            const [first, ...lines] = readFileSync(logPath, "utf8").split("\n");
            if (first !== header) {
                let before: Record<string, unknown> = {};
                try {
                    before = JSON.parse(first!) as Record<string, unknown>;
                } catch { /* not ours: every setting differs */ }
                const changed = Object.entries(settings).filter(([key, value]) => before[key] !== value)
                    .map(([key, value]) => `${key} ${JSON.stringify(before[key] ?? null)} → ${JSON.stringify(value)}`);
                throw new UsageError(`${path} was written with other settings (${changed.join(", ") || first}): ` +
                    `resume with the same ones, or remove ${path} and ${logPath} to start over`);
            }
            // the last line is complete only if it ends with a newline: split() leaves "" after it
            for (const line of lines.slice(0, -1)) {
                const [hash, end, flag] = line.split(" ");
                if (hash === undefined || end === undefined) break;
                done.push({ hash, end: Number(end), failed: flag === "e" });
            }
        } else if (resume && existsSync(path) && statSync(path).size > 0) {
            throw new UsageError(`${path} exists but has no ${logPath} record to resume from; remove it or drop --resume`);
        } else {
            writeFileSync(logPath, `${header}\n`);
        }
        const offset = done.at(-1)?.end ?? 0;
        const out = openSync(path, existsSync(path) ? "r+" : "w");
        try {
            if (statSync(path).size < offset)
                throw new UsageError(`${path} is shorter than ${logPath} records: it was changed since; remove both to start over`);
            ftruncateSync(out, offset);
            return { done, out, offset, log: openSync(logPath, "a") };
        } catch (error) {
            closeSync(out);
            throw error;
        }
    }

    /** Fails unless the input row at `index` is the one FILE was written from. */
    check(index: number, input: InputRow): void {
        if (this.done[index]!.hash !== rowHash(input))
            throw new UsageError(`${this.path} was written from other input: row ${index + 1} (${input.source}:${input.line}) differs; ` +
                `remove ${this.path} and ${this.path}.resume to start over`);
    }

    async row(text: Output, input: InputRow, failed: boolean): Promise<void> {
        this.waiting.push({ hash: rowHash(input), failed });
        // a row held back by the writer (its text comes with a later row's) is recorded only once it is in FILE
        if (text.length > 0) this.write(text);
    }

    async end(text: Output): Promise<void> {
        this.write(text);
        this.release();
    }

    private released = false;

    release(): void {
        if (this.released) return;
        this.released = true;
        closeSync(this.out);
        closeSync(this.log);
        this.unlock();
    }

    private write(text: Output): void {
        if (text.length === 0) return;
        const bytes = Buffer.from(text);
        writeSync(this.out, bytes, 0, bytes.length, this.offset);
        this.offset += bytes.length;
        for (const { hash, failed } of this.waiting) writeSync(this.log, `${hash} ${this.offset}${failed ? " e" : ""}\n`);
        this.waiting = [];
    }
}
