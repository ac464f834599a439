import { createReadStream, createWriteStream, renameSync, rmSync } from "node:fs";
import { once } from "node:events";
import { exitCodes, NemoError, UsageError } from "../errors.js";
import { checkInputs, formatOf } from "../input/openInput.js";
import { readJsonl } from "../input/readJsonl.js";
import { readDelimited } from "../input/readDelimited.js";
import type { InputRow } from "../input/inputRow.js";
import type { Log } from "../log.js";
import { LineWriter } from "../output/lineWriter.js";
import { formatOfPath } from "../output/formats.js";
import { readShardRecord, recordSuffixes } from "./shards.js";
import { refuseInputAsOutput } from "./outputGuard.js";

/**
 * Interleaves the outputs of `--shard K/N` runs back into input order: row i comes from shard i mod N.
 * Shards are ordered by their `FILE.shard` records (or taken in the order given when there are none), and the
 * merge fails when a shard is missing, unfinished, or short of rows. Aborting `signal` (Ctrl-C) stops it, exit 130,
 * with the output left as it was.
 */
export async function mergeShards(outputPath: string, givenPaths: string[], log: Log, signal?: AbortSignal): Promise<number> {
    const shardPaths = withoutRecords(givenPaths);
    checkInputs({ paths: shardPaths });
    refuseInputAsOutput(outputPath, shardPaths);
    const shards = orderShards(shardPaths, log);
    const format = formatOf(shards[0]!, undefined);
    if (format === "json" || format === "parquet") throw new UsageError("merge works on jsonl, csv and tsv shard outputs");
    const named = formatOfPath(outputPath);
    if (named !== undefined && named !== format) throw new UsageError(`the shards are ${format}; ${outputPath} names ${named}`);
    const iterators = shards.map((path) => {
        const stream = createReadStream(path);
        // no size limit: a shard row is as long as the run that wrote it made it, and is carried whole
        const rows = format === "jsonl" ? readJsonl(stream, path, Infinity) : readDelimited(stream, path, format, Infinity);
        return rows[Symbol.asyncIterator]();
    });
    // written beside the output and renamed into place only when every check has passed: a refused merge leaves nothing
    const partial = `${outputPath}.partial`;
    const out = createWriteStream(partial);
    let counts: number[];
    try {
        counts = await interleave(shards, iterators, new LineWriter(out), signal);
        out.end();
        await once(out, "finish");
        renameSync(partial, outputPath);
    } catch (error) {
        out.destroy();
        rmSync(partial, { force: true });
        throw error;
    }
    const total = counts.reduce((a, b) => a + b, 0);
    log.info(`merged ${total} rows from ${shards.length} shards into ${outputPath}`);
    return total;
}

/** Row i from shard i mod N; every shard under the same header; returns the rows taken from each shard. */
async function interleave(shards: string[], iterators: AsyncIterator<InputRow>[], writer: LineWriter, signal?: AbortSignal): Promise<number[]> {
    const counts = shards.map(() => 0);
    let header: string | undefined;
    for (let i = 0; ; i++) {
        if (signal?.aborted) throw new NemoError("interrupted: the merge stopped, nothing written", exitCodes.interrupted);
        const k = i % shards.length;
        const next: IteratorResult<InputRow> = await iterators[k]!.next();
        if (next.done) break;
        const row = next.value;
        if (row.header !== undefined) {
            // each shard's header came from its own first row: shards begun in input files of other columns differ
            if (header === undefined) await writer.write(`${header = row.header.text}${row.header.eol}`);
            else if (row.header.text !== header)
                throw new UsageError(`${shards[k]} has other columns than ${shards[0]} (${row.header.text} vs ${header}): ` +
                    "score files with different columns apart, or to JSONL, before merging");
        }
        await writer.write(`${row.text}${row.header?.eol ?? "\n"}`);
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
