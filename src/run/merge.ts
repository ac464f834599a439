import { createHash, type Hash } from "node:crypto";
import { createReadStream, existsSync, readdirSync, realpathSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { Transform } from "node:stream";
import { exitCodes, NemoError, UsageError } from "../errors.js";
import { formatOfName, formats, type OutputFormat } from "../formats.js";
import type { CliIo } from "../io.js";
import { createLog, type Log } from "../log.js";
import { plural } from "../plural.js";
import { readDelimited } from "../input/delimited.js";
import { readJsonl } from "../input/jsonl.js";
import { findInputs, formatOf, readRows, sourceName, type InputSpec } from "../input/sources.js";
import { createEncoder } from "../encode/createEncoder.js";
import { endChunks } from "../encode/encoder.js";
import { Outputs, readResumeSettings, readShardRecord, type OutputFile, type ShardRecord } from "../outputs/outputs.js";
import { layoutOf, type ScoringPlan } from "../plan/plan.js";
import type { Layout } from "../records/toolFields.js";
import { kindOf } from "./scoreTask.js";
import { recordSuffixes } from "../outputs/target.js";
import { where, type InputRow, type Source } from "../records/row.js";

/**
 * Interleaves the outputs of `--shard K/N` runs back into input order: row i comes from shard i mod N. Shards are
 * ordered by their `FILE.shard` records (or taken in the order given when there are none), and the merge fails when
 * a shard is missing, unfinished, short of rows, scored from other input or with other settings than the others,
 * or not the file its run wrote (its bytes are checked against its record as they are read). The merged file goes through the outputs owner: locked (a second
 * merge, or a run writing it, is refused), written beside itself and given its name only when the merge succeeded.
 * Aborting `signal` (Ctrl-C) stops it, exit 130, with the output left as it was.
 */
export async function runMerge(output: string, given: string[], io: CliIo, quiet: boolean): Promise<number> {
    const log = createLog(io.stderr, { quiet });
    const inputs = findInputs(partsOf(withoutRecords(given.flatMap(expandFolder)), log), undefined);
    const reals = inputs.map(({ path }) => realpathSync(path));
    const twice = inputs.find((_, i) => reals.indexOf(reals[i]!) < i);
    if (twice !== undefined) throw new UsageError(`${twice.path} is given twice: name each part once`);
    const format = inputs[0]!.format;
    if (!formats[format].resumable) throw new UsageError("merge works on jsonl, csv, tsv and parquet shard outputs");
    const other = inputs.find((input) => input.format !== format);
    if (other !== undefined) throw new UsageError(`${other.path} is ${other.format}, ${inputs[0]!.path} ${format}: the parts of one run are of one format`);
    const named = formatOfName(output, "output") ?? format;
    // any parts to Parquet, Parquet parts to JSONL: row by row, each value as its type; else the parts' own bytes
    if (named !== format && named !== "parquet" && !(format === "parquet" && named === "jsonl")) throw new UsageError(`the shards are ${format}; ${output} names ${named}`);
    // the shards' locks are held while they are read: a shard still being written is waited for, not taken as short
    const outputs = await Outputs.claim([{ flag: "merge", path: output, format: named }], inputs.map(({ path }) => ({ path, what: "an input", hold: true })), io);
    try {
        const { shards, records } = orderShards(inputs.map((input) => input.path), log);
        outputs.open();
        const counts = named === format && format !== "parquet"
            ? await interleave(shards, records, format === "jsonl" ? "jsonl" : format === "csv" ? "," : "\t", outputs.get("merge"), io.signal)
            : await interleaveRows(shards.map((path) => ({ path, format })), records, named, outputs.get("merge"), log, io.signal);
        await outputs.finish(true);
        const total = counts.reduce((a, b) => a + b, 0);
        log.info(`merged ${plural(total, "row")} from ${plural(shards.length, "shard")} into ${output}`);
        return exitCodes.ok;
    } finally {
        outputs.release();
    }
}

/** Row i from shard i mod N; every shard under the same header; returns the rows taken from each shard. */
async function interleave(shards: string[], records: (ShardRecord | undefined)[], syntax: "jsonl" | "," | "\t", out: OutputFile, signal?: AbortSignal): Promise<number[]> {
    const sources: Source[] = shards.map((path) => ({ name: sourceName(path), format: syntax === "jsonl" ? "jsonl" : syntax === "," ? "csv" : "tsv" }));
    const hashes: Hash[] = shards.map(() => createHash("sha256"));
    const iterators = shards.map((path, k) => {
        const stream = createReadStream(path).pipe(new Transform({
            transform(chunk: Buffer, _, done) {
                hashes[k]!.update(chunk);
                done(null, chunk);
            },
        }));
        // no size limit: a shard row is as long as the run that wrote it made it, and is carried whole
        const rows = syntax === "jsonl" ? readJsonl(stream, sources[k]!, Infinity) : readDelimited(stream, sources[k]!, syntax, Infinity);
        return rows[Symbol.asyncIterator]();
    });
    const counts = shards.map(() => 0);
    let header: string | undefined;
    for (let i = 0; ; i++) {
        if (signal?.aborted) throw new NemoError("interrupted: the merge stopped, nothing written", exitCodes.interrupted);
        const k = i % shards.length;
        const next: IteratorResult<InputRow> = await iterators[k]!.next();
        if (next.done) break;
        const row = next.value;
        const own = row.source.header;
        if (own !== undefined) {
            // each shard's header came from its own first row: shards begun in input files of other columns differ
            if (header === undefined) await out.write(`${header = own.text}${own.eol}`);
            else if (own.text !== header) throw otherColumns(shards[k]!, shards[0]!, own.text, header);
        }
        await out.write(`${row.text}${own?.eol ?? "\n"}`);
        counts[k]!++;
    }
    for (let k = 0; k < shards.length; k++) {
        checkCount(shards[k]!, !(await iterators[k]!.next()).done, counts[k]!, records[k]);
        const record = records[k];
        if (record !== undefined && hashes[k]!.digest("hex") !== record.sha256)
            throw otherBytes(shards[k]!);
        // shards without rows: the header still heads the merged file (a merge of one shard is that shard)
        const own = sources[k]!.header;
        if (own === undefined) continue;
        if (header === undefined) await out.write(`${header = own.text}${own.eol}`);
        else if (own.text !== header) throw otherColumns(shards[k]!, shards[0]!, own.text, header);
    }
    return counts;
}

/**
 * Row i from shard i mod N, as typed rows (readers), written by the output format's encoder: Parquet parts (their
 * columns, the same in every part) to Parquet or JSONL, and any parts to Parquet. Each part's bytes are checked
 * against its record before it is read.
 */
async function interleaveRows(shards: InputSpec[], records: (ShardRecord | undefined)[], format: OutputFormat, out: OutputFile, log: Log, signal?: AbortSignal): Promise<number[]> {
    for (const [k, { path }] of shards.entries()) {
        const record = records[k];
        if (record === undefined) continue;
        const hash = createHash("sha256");
        for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
        if (hash.digest("hex") !== record.sha256)
            throw otherBytes(path);
    }
    const parquet = shards[0]!.format === "parquet";
    const { parquetFooter, columnsOf } = await import("../input/parquet.js");
    const columns = parquet ? await Promise.all(shards.map(async ({ path }) => columnsOf(await parquetFooter(path)))) : [];
    const firstColumns = JSON.stringify(columns[0]);
    for (const [k, own] of columns.entries())
        if (JSON.stringify(own) !== firstColumns) throw new UsageError(`${shards[k]!.path} has other columns than ${shards[0]!.path}: parts of one run have the same`);
    const sources: Source[] = [];
    const problems: string[] = [];
    // Parquet out: the tool's columns where the parts' run put them, typed as it types them, all of them (also the
    // optional ones no part's row holds in JSON): the file one run's Parquet would be
    const layout = format === "parquet" ? partsLayout(shards[0]!.path) : undefined;
    const encoder = await createEncoder(format, {
        layoutOf: (row) => layout?.(row) ?? [], carried: true, warn: (message) => log.warn(message), onError: (row, message) => problems.push(`${where(row)}: ${message}`),
        sources: () => sources, parquetColumns: columns[0] ?? [], typedInputs: parquet, color: log.color, width: 100,
    });
    const options = { stdin: process.stdin, maxRecordBytes: Infinity, signal, formatGiven: true, warn: (message: string) => log.warn(message), onSource: (source: Source) => sources.push(source) };
    const iterators = shards.map((shard) => readRows([shard], options)[Symbol.asyncIterator]());
    const counts = shards.map(() => 0);
    for (let i = 0; ; i++) {
        if (signal?.aborted) throw new NemoError("interrupted: the merge stopped, nothing written", exitCodes.interrupted);
        const k = i % shards.length;
        const next = await iterators[k]!.next();
        if (next.done) break;
        if (next.value.problem !== undefined) throw new UsageError(`${where(next.value)}: ${next.value.problem}: a part that cannot be read is not merged`);
        await out.write(encoder.row({ input: next.value, fields: {} }));
        counts[k]!++;
        if (problems.length > 0) break;
    }
    for (let k = 0; k < shards.length && problems.length === 0; k++) {
        checkCount(shards[k]!.path, !(await iterators[k]!.next()).done, counts[k]!, records[k]);
    }
    for (const chunk of endChunks(encoder)) await out.write(chunk);
    // a value the output cannot hold as it is: nothing is merged rather than a value lost
    if (problems.length > 0) throw new UsageError(`cannot merge into ${format}: ${problems[0]}`);
    return counts;
}

/** The fields the run that wrote a part added to each kind of row, by the settings of its .resume record. */
function partsLayout(part: string): ((row: InputRow | undefined) => Layout) | undefined {
    const settings = readResumeSettings(part);
    if (typeof settings?.["rows"] !== "string" || typeof settings["field"] !== "string" || typeof settings["onOverlong"] !== "string") return undefined;
    const scoring = { mode: settings["rows"] === "render" ? "render" : "rewards", field: settings["field"], onOverlong: settings["onOverlong"] } as ScoringPlan;
    const layout = layoutOf(scoring, false);
    return (row) => layout(kindOf(row));
}

/**
 * After the first exhausted shard, every other shard must be exhausted too (shards differ by at most one row, and
 * only the later ones may be short), and hold the rows its record says.
 */
function checkCount(shard: string, more: boolean, count: number, record: ShardRecord | undefined): void {
    if (more) throw new UsageError(`${shard} has more rows than the shards before it: a shard is missing rows or the shards are out of order`);
    if (record !== undefined && record.rows !== count) throw new UsageError(`${shard} holds ${plural(count, "row")} but its run wrote ${record.rows}`);
}

function otherBytes(shard: string): UsageError {
    return new UsageError(`${shard} is not the file its run wrote (its bytes differ from those its .shard record holds): was it changed, or swapped with another shard?`);
}

function otherColumns(shard: string, first: string, own: string, header: string): UsageError {
    return new UsageError(`${shard} has other columns than ${first} (${own} vs ${header}): score files with different columns apart, or to JSONL, before merging`);
}

/** A folder as `folder/*` (every file in it, the parts and what is no part alike), else the path as a pattern. */
function expandFolder(path: string): string[] {
    if (statSync(path, { throwIfNoEntry: false })?.isDirectory() !== true) return expandPattern(path);
    const files = readdirSync(path, { withFileTypes: true }).filter((entry) => entry.isFile() && !recordSuffixes.some((suffix) => entry.name.endsWith(suffix)));
    if (files.length === 0) throw new UsageError(`${path} holds no file to merge`);
    return files.map((entry) => entry.name).sort().map((name) => join(path, name));
}

/**
 * A quoted pattern (`'out/part-*'`, which the shell left as it is: too many parts for one command line) as the files
 * it matches, in name order: `*`, `?` and `[...]` in the file name, not in the folders above it.
 */
function expandPattern(path: string): string[] {
    const name = basename(path);
    if (!/[*?[]/.test(name) || existsSync(path)) return [path];
    const folder = dirname(path);
    const source = name.replace(/[.+^${}()|\\]/g, "\\$&").replace(/\*/g, ".*").replace(/\?/g, ".").replace(/\[!/g, "[^");
    const pattern = new RegExp(`^${source}$`);
    let names: string[];
    try {
        // the files nemoreward keeps beside its outputs are no parts, whether or not their part is still there
        names = readdirSync(folder).filter((entry) => pattern.test(entry) && !recordSuffixes.some((suffix) => entry.endsWith(suffix))).sort();
    } catch {
        names = [];
    }
    if (names.length === 0) throw new UsageError(`no file matches ${path}`);
    return names.map((entry) => (folder === "." && !path.startsWith("./") ? entry : join(folder, entry)));
}

/** The shard files among the paths given: `part-*` also matches each shard's own record files, which are not shards. */
function withoutRecords(paths: string[]): string[] {
    const given = new Set(paths);
    return paths.filter((path) => !recordSuffixes.some((suffix) => path.endsWith(suffix) && given.has(path.slice(0, -suffix.length))));
}

/**
 * The parts among the files given: those with a `.shard` record when any has one, else those of the first one's
 * format. Any other file (a shard's log `part-0.err` that `part-*` matches, a note) is no part: skipped, and named.
 * A part with a record is never skipped, whatever its state: its checks fail loudly.
 */
function partsOf(paths: string[], log: Log): string[] {
    // a folder is taken as it is: findInputs takes the data files in it
    const folder = (path: string) => statSync(path, { throwIfNoEntry: false })?.isDirectory() === true;
    const recorded = paths.filter((path) => folder(path) || readShardRecord(path) !== undefined);
    const format = (path: string) => {
        try {
            return formatOf(path, undefined);
        } catch {
            return undefined;
        }
    };
    const first = paths.map(format).find((f) => f !== undefined);
    // a file that is not there is no file to skip: findInputs names it
    const parts = recorded.some((path) => !folder(path)) ? recorded : paths.filter((path) => folder(path) || !existsSync(path) || format(path) === first);
    for (const path of paths.filter((path) => !parts.includes(path)))
        log.warn(recorded.some((path) => !folder(path)) ? `${path} is no part (it has no .shard record): skipped` : `${path} is no ${first ?? "data"} file like the others: skipped`);
    if (parts.length === 0) throw new UsageError(`no part to merge among ${paths.join(", ")}: name jsonl, csv or tsv files written with --shard K/N -o FILE`);
    return parts;
}

/**
 * The shards in order, by their records; every shard's run finished, of the same count, with the same settings and
 * input, and the file the same size as when its run finished (its bytes are checked as the merge reads them).
 */
function orderShards(paths: string[], log: Log): { shards: string[]; records: (ShardRecord | undefined)[] } {
    const found = paths.map((path) => ({ path, record: readShardRecord(path) }));
    if (found.every((r) => r.record === undefined)) {
        log.warn("no .shard records beside the shard files: taking them in the order given, as shards 0, 1, ...");
        return { shards: paths, records: paths.map(() => undefined) };
    }
    // every part that cannot be merged is named, not only the first
    const problems: string[] = [];
    const count = found.find((r) => r.record !== undefined)!.record!.count;
    const ordered: ({ path: string; record: ShardRecord } | undefined)[] = Array.from({ length: count }, () => undefined);
    for (const { path, record } of found) {
        if (record === undefined) problems.push(`${path} has no .shard record (was it written with --shard K/N -o FILE?)`);
        else if (record.count !== count) problems.push(`${path} is shard ${record.index}/${record.count}, not one of ${count}`);
        else if (ordered[record.index] !== undefined) problems.push(`shard ${record.index}/${count} is given twice (${ordered[record.index]!.path} and ${path})`);
        else ordered[record.index] = { path, record };
    }
    for (const [k, part] of ordered.entries()) if (part === undefined) problems.push(`shard ${k}/${count} is missing`);
    const first = ordered.find((o) => o !== undefined && o.record.complete && o.record.settings !== undefined);
    for (const part of ordered) {
        if (part === undefined) continue;
        const { path, record } = part;
        if (!record.complete) {
            problems.push(`${path} is short: the run of shard ${record.index}/${count} did not finish; resume it first`);
            continue;
        }
        if (record.settings === undefined || record.input === undefined || record.sha256 === undefined || record.bytes === undefined) {
            problems.push(`${path}.shard was written by another version of nemoreward: score its shard again`);
            continue;
        }
        if (record.settings !== first!.record.settings)
            problems.push(`${path} was scored with other settings than ${first!.path} (model, template, --field, --precise, ...): shards merge only from one run's settings`);
        if (record.input !== first!.record.input)
            problems.push(`${path} was scored from other input than ${first!.path} (${record.input} vs ${first!.record.input}): shards merge only from one input`);
        const size = statSync(path).size;
        if (size !== record.bytes)
            problems.push(`${path} is not the file its run wrote (${size} bytes, its .shard record says ${record.bytes}): was it changed, or swapped with another shard?`);
    }
    if (problems.length > 0) throw new UsageError(problems.length === 1 ? problems[0]! : `cannot merge: ${problems.join("; ")}`);
    const parts = ordered as { path: string; record: ShardRecord }[];
    return { shards: parts.map((o) => o.path), records: parts.map((o) => o.record) };
}
