import { createReadStream } from "node:fs";
import { exitCodes, NemoError, UsageError } from "../errors.js";
import { formatOfName, formats } from "../formats.js";
import type { CliIo } from "../io.js";
import { createLog, type Log } from "../log.js";
import { readDelimited } from "../input/delimited.js";
import { readJsonl } from "../input/jsonl.js";
import { findInputs, sourceName } from "../input/sources.js";
import { Outputs, readShardRecord, type OutputFile } from "../outputs/outputs.js";
import { recordSuffixes } from "../outputs/target.js";
import type { InputRow, Source } from "../records/row.js";

/**
 * Interleaves the outputs of `--shard K/N` runs back into input order: row i comes from shard i mod N. Shards are
 * ordered by their `FILE.shard` records (or taken in the order given when there are none), and the merge fails when
 * a shard is missing, unfinished, or short of rows. The merged file goes through the outputs owner: locked (a second
 * merge, or a run writing it, is refused), written beside itself and given its name only when the merge succeeded.
 * Aborting `signal` (Ctrl-C) stops it, exit 130, with the output left as it was.
 */
export async function runMerge(output: string, given: string[], io: CliIo, quiet: boolean): Promise<number> {
    const log = createLog(io.stderr, { quiet });
    const inputs = findInputs(withoutRecords(given), undefined);
    const shards = orderShards(inputs.map((input) => input.path), log);
    const format = inputs[0]!.format;
    if (!formats[format].resumable) throw new UsageError("merge works on jsonl, csv and tsv shard outputs");
    const named = formatOfName(output, "output");
    if (named !== undefined && named !== format) throw new UsageError(`the shards are ${format}; ${output} names ${named}`);
    const outputs = await Outputs.claim([{ flag: "merge", path: output, format }], shards.map((path) => ({ path, what: "an input" })), io);
    try {
        outputs.open();
        const counts = await interleave(shards, format === "jsonl" ? "jsonl" : format === "csv" ? "," : "\t", outputs.get("merge"), io.signal);
        await outputs.finish(true);
        const total = counts.reduce((a, b) => a + b, 0);
        log.info(`merged ${total} rows from ${shards.length} shards into ${output}`);
        return exitCodes.ok;
    } finally {
        outputs.release();
    }
}

/** Row i from shard i mod N; every shard under the same header; returns the rows taken from each shard. */
async function interleave(shards: string[], syntax: "jsonl" | "," | "\t", out: OutputFile, signal?: AbortSignal): Promise<number[]> {
    const sources: Source[] = shards.map((path) => ({ name: sourceName(path), format: syntax === "jsonl" ? "jsonl" : syntax === "," ? "csv" : "tsv" }));
    const iterators = shards.map((path, k) => {
        const stream = createReadStream(path);
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
            else if (own.text !== header)
                throw new UsageError(`${shards[k]} has other columns than ${shards[0]} (${own.text} vs ${header}): ` +
                    "score files with different columns apart, or to JSONL, before merging");
        }
        await out.write(`${row.text}${own?.eol ?? "\n"}`);
        counts[k]!++;
    }
    // After the first exhausted shard, every other shard must be exhausted too: shards differ by at most one row,
    // and only the later ones may be short.
    for (let k = 0; k < shards.length; k++) {
        const rest = await iterators[k]!.next();
        if (!rest.done) throw new UsageError(`${shards[k]} has more rows than the shards before it: a shard is missing rows or the shards are out of order`);
        const record = readShardRecord(shards[k]!);
        if (record !== undefined && record.rows !== counts[k])
            throw new UsageError(`${shards[k]} holds ${counts[k]} rows but its run wrote ${record.rows}`);
    }
    return counts;
}

/** The shard files among the paths given: `part-*` also matches each shard's own record files, which are not shards. */
function withoutRecords(paths: string[]): string[] {
    const given = new Set(paths);
    return paths.filter((path) => !recordSuffixes.some((suffix) => path.endsWith(suffix) && given.has(path.slice(0, -suffix.length))));
}

function orderShards(paths: string[], log: Log): string[] {
    const records = paths.map((path) => ({ path, record: readShardRecord(path) }));
    if (records.every((r) => r.record === undefined)) {
        log.warn("no .shard records beside the shard files: taking them in the order given, as shards 0, 1, ...");
        return paths;
    }
    const missing = records.find((r) => r.record === undefined);
    if (missing) throw new UsageError(`${missing.path} has no ${missing.path}.shard record: was it written with --shard K/N -o FILE?`);
    const count = records[0]!.record!.count;
    const ordered: string[] = [];
    for (const { path, record } of records) {
        if (record!.count !== count) throw new UsageError(`${path} is shard ${record!.index}/${record!.count}, not one of ${count}`);
        if (!record!.complete) throw new UsageError(`${path}: the run of shard ${record!.index}/${count} did not finish; resume it first`);
        if (ordered[record!.index] !== undefined) throw new UsageError(`shard ${record!.index}/${count} is given twice`);
        ordered[record!.index] = path;
    }
    for (let k = 0; k < count; k++) if (ordered[k] === undefined) throw new UsageError(`shard ${k}/${count} is missing`);
    return ordered;
}
