import { chmodSync, closeSync, createReadStream, createWriteStream, existsSync, fstatSync, ftruncateSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync,
    writeSync, type Stats, type WriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Writable } from "node:stream";
import { exitCodes, NemoError, UsageError } from "../errors.js";
import { formats, type OutputFormat } from "../formats.js";
import { readHeader } from "../input/delimited.js";
import { LineWriter } from "./lineWriter.js";
import { takeLock } from "./lock.js";
import { createHash, type Hash } from "node:crypto";
import { continueCrc, inspectRecord, recordedRows, recordLine, resumeHeader, rowHash, type Recorded, type ResumeSettings } from "./resumeLog.js";
import { identity, recordPath, recordSuffixes, resolveTarget, standardInput, type Target } from "./target.js";

/** Bytes for an output: text, or a binary format's bytes. */
export type Chunk = string | Uint8Array;

/** One output a command writes, as its plan gives it. */
export type OutputSpec = {
    /** What the output is, for messages: "-o", "--rejects", "--per-row". */
    flag: string;
    /** Undefined: standard output. */
    path?: string;
    format: OutputFormat;
    /**
     * Keep `FILE.resume`, the record of every row written, so that a run stopped at any moment (SIGKILL too) can be
     * continued; `resume`: continue FILE. Only for a row-by-row format, and a run whose output rows follow its input rows.
     */
    records?: { settings: ResumeSettings; resume: boolean };
    /** Keep `FILE.shard`: which shard FILE holds (rows i with i mod count == index) and whether its run finished, for `nemoreward merge`. */
    shard?: { index: number; count: number };
};

/** A file the run reads, which no output may be: an input, a part of the model, the chat template, a shard to merge. */
/**
 * A file the run reads, which no output may be. `hold`: another run's output (a shard merge reads): its lock is
 * taken too, so that a run still writing it is waited for (exit 75) and none starts while it is read.
 */
export type ReadFile = { path: string; what: string; hold?: boolean };

/**
 * What a shard's run leaves in `FILE.shard`; once complete, also what `merge` checks the shards against: that every
 * shard was scored from the same input with the same settings, and that FILE is still the file its run wrote.
 */
export type ShardRecord = {
    index: number;
    count: number;
    rows: number;
    complete: boolean;
    /** Fingerprint of the run's settings but the shard (resumeLog's settings). */
    settings?: string;
    /** Fingerprint of every input row (all shards' rows: each shard's run reads them all). */
    input?: string;
    /** FILE's size and SHA-256 when its run finished. */
    bytes?: number;
    sha256?: string;
};

/** A shard's run's fingerprint of every input row it read, for FILE.shard (`ShardRecord.input`). */
export function inputPrint(): { row(identity: string): void; digest(): string } {
    const hash = createHash("sha256");
    let rows = 0;
    return {
        row: (identity) => {
            rows++;
            hash.update(rowHash(identity));
        },
        digest: () => `${rows} rows, ${hash.digest("hex").slice(0, 16)}`,
    };
}

/**
 * The one owner of every file a command writes: the main output, `--rejects`, `--per-row`, a report, a merge, and
 * their records. `claim` checks them all and takes their locks, before anything is loaded, touching no file but the
 * locks; `open` (once every check of the run has passed: the model loaded, the template read) creates them; `finish`
 * completes them; `release` lets go whatever happened.
 *
 * A file kept with records (`FILE.resume`) is written in place, row by row, so that an interrupted run can continue
 * it. Any other file is written beside itself (`FILE.partial`) and takes its name only when the run ends: a run that
 * fails leaves the file as it was.
 */
export class Outputs {
    private readonly files: OutputFile[] = [];
    private readonly unlocks: (() => void)[] = [];

    private constructor(private readonly io: { stdout: Writable & { isTTY?: boolean } }) {}

    /**
     * Checks every output and takes its lock. Refused: an output that is a file the run reads (by identity: through
     * any link), two outputs that are one file or one's record, a file of several hard links written in place (it
     * would change under its other names), a file another run writes, a resume with other settings.
     */
    static async claim(specs: readonly OutputSpec[], reads: readonly ReadFile[], io: { stdout: Writable & { isTTY?: boolean } }): Promise<Outputs> {
        const outputs = new Outputs(io);
        try {
            const targets = specs.map((spec) => (spec.path === undefined ? { kind: "stdout" as const } : resolveTarget(spec.path)));
            // what each output is now (standard output sent to a file: that file), to tell one file under two names
            const stdout = io.stdout === process.stdout ? standardOutput() : undefined;
            const stats = targets.map((t) => (t.kind === "stdout" ? stdout : statSync(t.kind === "file" ? t.real : t.path, { throwIfNoEntry: false })));
            refuseReadFiles(targets, stats, reads);
            refuseOverlaps(specs, targets, stats);
            for (const read of reads.filter((r) => r.hold === true)) {
                const target = resolveTarget(read.path);
                if (target.kind === "file") outputs.unlocks.push(takeLock(target.real, target.shown));
            }
            for (const [i, spec] of specs.entries()) outputs.files.push(await outputs.claimOne(spec, targets[i]!));
        } catch (error) {
            outputs.release();
            throw error;
        }
        return outputs;
    }

    private async claimOne(spec: OutputSpec, target: Target): Promise<OutputFile> {
        if (target.kind !== "file") return new OutputFile(spec, target, undefined, this.io);
        const inPlace = spec.records !== undefined;
        const stat = statSync(target.real, { throwIfNoEntry: false });
        if (inPlace && stat !== undefined && stat.nlink > 1)
            throw new UsageError(`${target.shown} has ${stat.nlink} names (hard links): writing it in place would change it under the others too; write elsewhere`);
        this.unlocks.push(takeLock(target.real, target.shown));
        // the file under any other path (a bind mount): its identity is locked too, on this machine
        if (stat !== undefined) this.unlocks.push(takeLock(identityLockPath(stat), target.shown));
        let recorded: Recorded | undefined;
        if (spec.records?.resume) {
            const log = recordPath(target, ".resume");
            const kept = lstatSync(log, { throwIfNoEntry: false });
            if (kept !== undefined && (!kept.isFile() || kept.nlink > 1))
                throw new UsageError(`${log} is ${kept.isSymbolicLink() ? "a symbolic link" : kept.isFile() ? "a file of several names (hard links)" : "not a file"}: ` +
                    `a record nemoreward continues is a file of its own; remove ${target.shown} and ${log} to start over`);
            if (kept !== undefined) {
                if (stat === undefined) throw new UsageError(`${target.shown} is gone but its ${log} record is there: remove ${log} to start over`);
                recorded = await inspectRecord(log, target.real, spec.records.settings, target.shown);
            } else if ((stat?.size ?? 0) > 0) {
                throw new UsageError(`${target.shown} exists but has no ${log} record to resume from; remove it or drop --resume`);
            }
        }
        const delimiter = formats[spec.format].delimiter;
        const continuing = recorded !== undefined && recorded.rows > 0 && delimiter !== undefined ? await readHeader(target.real, delimiter) : undefined;
        return new OutputFile(spec, target, recorded, this.io, continuing);
    }

    /** The output of this flag ("-o", "--rejects", ...). */
    get(flag: string): OutputFile {
        const file = this.files.find((f) => f.spec.flag === flag);
        if (file === undefined) throw new Error(`no output ${flag}`);
        return file;
    }

    /** Creates every output: from here on files change. */
    open(): void {
        for (const file of this.files) file.open();
    }

    /**
     * Completes every output: records closed, partial files given their names. `complete`: the run read all its input;
     * `input`: its fingerprint (`inputPrint`), for a shard's record.
     */
    async finish(complete: boolean, input?: string): Promise<void> {
        for (const file of this.files) await file.finish(complete, input);
    }

    /** Lets go of every output whether or not it was finished; a partial file that was not finished is removed. Safe twice. */
    release(): void {
        for (const file of this.files) file.release();
        for (const unlock of this.unlocks.splice(0)) unlock();
    }
}

/** One output: where its bytes go, and the records kept beside it. */
export class OutputFile {
    /** Bytes written so far (a file's size, for its records). */
    private offset = 0;
    private fd: number | undefined;
    private log: number | undefined;
    private logOffset = 0;
    private lines: LineWriter | undefined;
    private stream: WriteStream | undefined;
    /** Rows given to `row` whose text is not yet in the file (a CSV writer holds rows until it knows the columns). */
    private waiting: { hash: string; failed: boolean }[] = [];
    /** The bytes before this point are the resumed run's, already checked: they stay; after it, a torn row is cut. */
    private cut: number | undefined;
    private finished = false;
    private rows = 0;
    private buffered: Uint8Array[] = [];
    private bufferedBytes = 0;
    /** With records: the CRC-32 of FILE's bytes so far. */
    private crc = 0;
    /** With a shard record: the SHA-256 of FILE's bytes so far. */
    private content: Hash | undefined;

    constructor(
        readonly spec: OutputSpec,
        readonly target: Target,
        /** With --resume: the rows FILE already holds (their hashes stream through `recordedRows`). */
        readonly recorded: Recorded | undefined,
        private readonly io: { stdout: Writable },
        /** A resumed CSV/TSV file's header: it fixes the columns of the rows appended. */
        readonly continuing?: { names: string[]; eol: string },
    ) {}

    /** Where the bytes go now: the file itself, or FILE.partial until the run ends. */
    private get writePath(): string | undefined {
        if (this.target.kind !== "file") return undefined;
        return this.spec.records !== undefined ? this.target.real : recordPath(this.target, ".partial");
    }

    /** The path of a record of this output, or undefined for standard output and streams. */
    recordFile(suffix: ".resume" | ".shard"): string | undefined {
        return this.target.kind === "file" ? recordPath(this.target, suffix) : undefined;
    }

    /** The hashes of the rows FILE holds, in order, for checking them against the input. */
    recordedRows(): AsyncIterable<{ hash: string; failed: boolean }> {
        return recordedRows(this.recordFile(".resume")!, this.recorded?.rows ?? 0);
    }

    /** True once nobody reads any more (a closed pipe). */
    get closed(): boolean {
        return this.lines?.closed ?? false;
    }

    open(): void {
        const target = this.target;
        if (this.spec.shard !== undefined) this.content = this.recorded?.content ?? createHash("sha256");
        this.crc = this.recorded?.crc ?? 0;
        if (target.kind === "stdout") {
            this.lines = new LineWriter(this.io.stdout, "standard output");
            return;
        }
        if (target.kind === "stream") {
            // opened in the background: a FIFO's open waits for its reader; appended to: `-o /dev/stdout >> log` keeps the log
            this.stream = createWriteStream(target.path, { flags: "a" });
            this.lines = new LineWriter(this.stream, target.path);
            return;
        }
        const records = this.spec.records;
        if (records === undefined) {
            this.fd = createOwn(this.writePath!);
        } else {
            const logPath = recordPath(target, ".resume");
            if (this.recorded !== undefined) {
                this.fd = openSync(target.real, "r+");
                this.log = openSync(logPath, "r+");
                this.offset = this.recorded.end;
                this.logOffset = this.recorded.logEnd;
                this.cut = this.recorded.end;
            } else {
                // FILE itself may be a link the user made (written through, to where it leads); its record is ours
                this.fd = openSync(target.real, existsSync(target.real) ? "r+" : "w");
                ftruncateSync(this.fd, 0);
                this.log = createOwn(logPath);
                writeAll(this.log, Buffer.from(`${resumeHeader(records.settings)}\n`), 0, target);
                this.logOffset = statSync(logPath).size;
            }
        }
        // a resumed shard's record changes with its first new row: a resume refused before it leaves the record as it was
        if (this.spec.shard !== undefined && this.recorded === undefined) this.writeShardRecord(false);
    }

    /**
     * Writes a row's bytes (empty when the format holds the row back) and, with records, records the row once its
     * bytes are in the file: `identity` (records/row.ts) is what a resumed run checks its input row against, found
     * only when records are kept.
     */
    async row(chunk: Chunk, identity: () => string, failed: boolean): Promise<void> {
        this.rows++;
        if (this.log !== undefined) this.waiting.push({ hash: rowHash(identity()), failed });
        await this.write(chunk);
    }

    /**
     * Writes bytes that are no row of their own (a header, a footer, a report). `provisional`: the rows waiting for
     * their text in the file (encoders.ts `provisional`) are written but not recorded, so that a resumed run writes
     * them again.
     */
    async write(chunk: Chunk, provisional = false): Promise<void> {
        if (provisional) this.waiting = [];
        if (chunk.length === 0) return;
        if (this.lines !== undefined) return this.lines.write(chunk);
        const bytes = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
        if (this.log === undefined) {
            // no records: the bytes go out in large writes (a merge of millions of rows is not a write per row)
            this.buffered.push(bytes);
            this.bufferedBytes += bytes.length;
            if (this.bufferedBytes >= 1 << 20) this.flush();
            return;
        }
        if (this.cut !== undefined) {
            // the first write after a resume: what follows the last recorded row (a row cut short) goes
            ftruncateSync(this.fd!, this.cut);
            ftruncateSync(this.log!, this.logOffset);
            this.cut = undefined;
            if (this.spec.shard !== undefined) this.writeShardRecord(false);
        }
        writeAll(this.fd!, bytes, this.offset, this.target);
        this.offset += bytes.length;
        this.crc = continueCrc(this.crc, bytes);
        this.content?.update(bytes);
        if (this.log !== undefined && this.waiting.length > 0) {
            const lines = Buffer.from(this.waiting.map(({ hash, failed }) => recordLine(hash, this.offset, this.crc, failed)).join(""));
            writeAll(this.log, lines, this.logOffset, this.target);
            this.logOffset += lines.length;
            this.waiting = [];
        }
    }

    async finish(complete: boolean, input?: string): Promise<void> {
        if (this.finished) return;
        await this.lines?.end(this.stream !== undefined);
        if (this.lines === undefined) {
            if (this.cut !== undefined) {
                // nothing written after the resumed rows: what follows the last recorded row (a row cut short) goes now
                ftruncateSync(this.fd!, this.cut);
                ftruncateSync(this.log!, this.logOffset);
                this.cut = undefined;
            }
            this.flush();
            this.closeFiles();
            if (this.target.kind === "file" && this.spec.records === undefined) renameSync(this.writePath!, this.target.real);
            if (this.spec.shard !== undefined) this.writeShardRecord(complete, input);
        }
        // only now: a file whose last bytes could not be written (a full disk) is a partial file release removes
        this.finished = true;
    }

    /** The rows this run wrote (a resumed run's earlier rows not counted). */
    get rowsWritten(): number {
        return this.rows;
    }

    private flush(): void {
        if (this.bufferedBytes === 0) return;
        const bytes = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
        this.buffered = [];
        this.bufferedBytes = 0;
        writeAll(this.fd!, bytes, this.offset, this.target);
        this.offset += bytes.length;
    }

    /** The fingerprint of this run's settings, but for the shard: what merge and a finished shard's record compare. */
    private settingsPrint(): string {
        const { shard: _, ...settings } = this.spec.records?.settings ?? {};
        return createHash("sha256").update(resumeHeader(settings)).digest("hex").slice(0, 16);
    }

    /**
     * A shard output its run finished (a task started again after it): its record complete, for this shard and these
     * settings, and the file the bytes the record holds. The caller still checks the input against `input`.
     */
    async finishedShard(): Promise<ShardRecord | undefined> {
        if (this.spec.shard === undefined || this.recorded === undefined || this.target.kind !== "file") return undefined;
        const { real } = this.target;
        const record = readShardRecord(real);
        if (record?.complete !== true || record.index !== this.spec.shard.index || record.count !== this.spec.shard.count) return undefined;
        if (record.settings !== this.settingsPrint() || statSync(real).size !== record.bytes) return undefined;
        const hash = createHash("sha256");
        for await (const chunk of createReadStream(real)) hash.update(chunk as Buffer);
        return hash.digest("hex") === record.sha256 ? record : undefined;
    }

    private writeShardRecord(complete: boolean, input?: string): void {
        const record: ShardRecord = { ...this.spec.shard!, rows: (this.recorded?.rows ?? 0) + this.rows, complete };
        if (complete) {
            Object.assign(record, {
                settings: this.settingsPrint(),
                input, bytes: this.offset, sha256: this.content!.digest("hex"),
            });
        }
        const fd = createOwn(this.recordFile(".shard")!);
        try {
            writeAll(fd, Buffer.from(`${JSON.stringify(record)}\n`), 0, this.target);
        } finally {
            closeSync(fd);
        }
    }

    private closeFiles(): void {
        if (this.fd !== undefined) closeSync(this.fd);
        if (this.log !== undefined) closeSync(this.log);
        this.fd = this.log = undefined;
    }

    release(): void {
        this.closeFiles();
        if (this.stream !== undefined && !this.stream.destroyed) this.stream.destroy();
        if (!this.finished && this.target.kind === "file" && this.spec.records === undefined) rmSync(this.writePath!, { force: true });
        this.finished = true;
    }
}

/**
 * A file of the tool's own beside an output (FILE.partial, FILE.resume, FILE.shard), made anew: whatever had its name
 * (a stale file, or a link a user left there, which writing through would follow to another file) is removed first,
 * and the new one is created only if absent. Returns its descriptor, open for writing.
 */
function createOwn(path: string): number {
    rmSync(path, { force: true });
    return openSync(path, "wx+");
}

/**
 * Where the identity of an existing file (device and inode) is locked on this machine: a file that two paths lead to
 * without a link between them (a bind mount) is still one file, and one run at a time writes it.
 */
function identityLockPath(stat: Stats): string {
    const folder = join(tmpdir(), "nemoreward-locks");
    if (!existsSync(folder)) {
        mkdirSync(folder, { recursive: true });
        chmodSync(folder, 0o1777); // shared by every user of the machine, each removing only their own locks, as /tmp
    }
    return join(folder, `${stat.dev}-${stat.ino}`);
}

/** Writes every byte at `position`; a failure (a full disk, a lost mount) ends the run with one line naming the file. */
function writeAll(fd: number, bytes: Uint8Array, position: number, target: Target): void {
    try {
        for (let done = 0; done < bytes.length;) done += writeSync(fd, bytes, done, bytes.length - done, position + done);
    } catch (error) {
        const name = target.kind === "file" ? target.shown : "the output";
        throw new NemoError(`cannot write ${name}: ${(error as Error).message}`, exitCodes.failure, { cause: error });
    }
}

/**
 * An output must not be a file the run reads: opening it would destroy what is read, and appending to it (standard
 * output or `/dev/stdout` sent `>>` to an input) would feed the run its own rows.
 */
function refuseReadFiles(targets: readonly Target[], stats: readonly (Stats | undefined)[], reads: readonly ReadFile[]): void {
    for (const [i, target] of targets.entries()) {
        const stat = stats[i];
        if (stat === undefined || !stat.isFile()) continue;
        const shown = shownOf(target);
        for (const { path, what } of reads) {
            const read = path === "-" ? standardInput() : statSync(path, { throwIfNoEntry: false });
            if (read?.isFile() && identity(read) === identity(stat))
                throw new UsageError(`${shown} is also ${what} (${path}): writing it would destroy ${what === "an input" ? "that input" : what}`);
        }
    }
}

function standardOutput(): Stats | undefined {
    try {
        return fstatSync(1);
    } catch {
        return undefined;
    }
}

function shownOf(target: Target): string {
    return target.kind === "stdout" ? "standard output" : target.shown;
}

/**
 * No two outputs may be one file (by name, or by identity: standard output sent `>>` to the file `--rejects` names),
 * nor one output another's record (`--rejects out.jsonl.resume`).
 */
function refuseOverlaps(specs: readonly OutputSpec[], targets: readonly Target[], stats: readonly (Stats | undefined)[]): void {
    const seen = new Map<string, string>();
    for (const [i, target] of targets.entries()) {
        if (target.kind !== "file") continue;
        const what = `${specs[i]!.flag} ${target.shown}`;
        const names = [target.real, ...recordSuffixes.map((suffix) => recordPath(target, suffix))];
        for (const name of names) {
            const other = seen.get(name);
            if (other !== undefined) throw new UsageError(`${what} and ${other} would both write ${name}: each output needs a file of its own`);
        }
        for (const name of names) seen.set(name, what);
    }
    const files = new Map<string, string>();
    for (const [i, target] of targets.entries()) {
        const stat = stats[i];
        if (stat === undefined || !stat.isFile()) continue;
        const what = `${specs[i]!.flag === "-o" && target.kind === "stdout" ? "" : `${specs[i]!.flag} `}${shownOf(target)}`;
        const other = files.get(identity(stat)!);
        if (other !== undefined) throw new UsageError(`${what} and ${other} are one file: each output needs a file of its own`);
        files.set(identity(stat)!, what);
    }
}

/** `FILE.shard` of a shard output, if any. */
/** The settings FILE.resume's first line holds (what its run's rows hold: `rows`, `field`, `onOverlong`, ...), if any. */
export function readResumeSettings(path: string): Record<string, unknown> | undefined {
    const target = resolveTarget(path);
    if (target.kind !== "file") return undefined;
    try {
        return JSON.parse(readFileSync(recordPath(target, ".resume"), "utf8").split("\n")[0]!) as Record<string, unknown>;
    } catch {
        return undefined;
    }
}

export function readShardRecord(path: string): ShardRecord | undefined {
    const target = resolveTarget(path);
    if (target.kind !== "file") return undefined;
    try {
        return JSON.parse(readFileSync(recordPath(target, ".shard"), "utf8")) as ShardRecord;
    } catch {
        return undefined;
    }
}
