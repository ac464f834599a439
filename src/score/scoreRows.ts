import { UsageError } from "../errors.js";
import type { Io } from "../io.js";
import { countRows, readInputs } from "../input/openInput.js";
import type { DelimitedHeader, InputRow } from "../input/inputRow.js";
import type { Log } from "../log.js";
import type { OutputRow, RowWriter } from "../output/formats.js";
import { ResumeSink, type Sink } from "../output/sinks.js";
import { Progress } from "../output/progress.js";
import { writeShardRecord } from "./shards.js";
import type { Pipeline, RunOptions } from "./runPipeline.js";

export type RowResult = { out: OutputRow; tokens: number; error?: string; skipped?: string };

/** Reads, processes and writes every row in input order; returns how many rows could not be processed. */
export async function scoreRows(
    options: RunOptions,
    parallel: number,
    io: Io,
    log: Log,
    pipeline: Pipeline,
    processRow: (row: InputRow) => Promise<RowResult>,
    writerFor: () => RowWriter,
    sink: Sink,
): Promise<number> {
    const total = options.shard === undefined ? await countRows(options.inputs, options.inputFormat) : undefined;
    const resumed = sink instanceof ResumeSink ? sink.done : [];
    const progress = new Progress(log, pipeline.verb, total === undefined ? undefined : total - resumed.length, options.progressSeconds);
    let failed = resumed.filter((row) => row.failed).length;
    if (resumed.length > 0) log.info(`resuming after the ${resumed.length} rows already in ${options.outputPath}`);
    let stopped: string | undefined;
    const emit = async (result: RowResult) => {
        const where = `${result.out.input.source}:${result.out.input.line}`;
        if (result.error !== undefined) {
            failed++;
            progress.interrupt(() => log.warn(`${where}: ${result.error}`));
            if (options.maxErrors !== undefined && failed >= options.maxErrors && stopped === undefined)
                stopped = `stopped after ${failed} rows could not be scored (--max-errors ${options.maxErrors})`;
        } else if (result.skipped !== undefined) {
            progress.interrupt(() => log.info(`${where}: skipped: ${result.skipped}`));
        }
        progress.row(result.tokens, result.error !== undefined, result.skipped !== undefined);
        pipeline.onRow?.(result.out);
        await sink.row(writerFor().row(result.out), result.out.input, result.error !== undefined);
    };

    // A window of rows in flight: the next row renders and tokenizes while the engine evaluates, and with several
    // sequences there are rows of several prompts to keep them busy (the responses of one prompt queue for the
    // sequence that holds it). Each row is written as soon as it and the rows before it are done, in input order.
    let inputHeader: DelimitedHeader | undefined;
    const depth = parallel === 1 ? 2 : 8 * parallel + 1;
    const inFlight: Promise<void>[] = [];
    let written = Promise.resolve();
    const rows = readInputs({ paths: options.inputs, stdin: io.stdin, format: options.inputFormat, maxRecordBytes: options.maxRecordBytes, signal: options.signal,
        warn: (message) => progress.interrupt(() => log.warn(message)), onHeader: (header) => (inputHeader ??= header) })[Symbol.asyncIterator]();
    let index = -1, mine = -1;
    let readError: unknown;
    for (;;) {
        let next: IteratorResult<InputRow> | undefined;
        try {
            next = await nextUnlessAborted(rows, options.signal);
        } catch (error) {
            readError = error; // the rows read before it are still scored and written
            break;
        }
        if (next === undefined) {
            stopped ??= "interrupted: finished the rows in flight";
            io.stdin.destroy();
            break;
        }
        if (next.done) break;
        const row = next.value;
        index++;
        if (options.shard !== undefined && index % options.shard.count !== options.shard.index) continue;
        mine++;
        if (mine < resumed.length) {
            (sink as ResumeSink).check(mine, row);
            continue;
        }
        const result = processRow(row);
        result.catch(() => undefined); // awaited below, in order; this only keeps Node from reporting it early
        written = written.then(async () => emit(await result));
        written.catch(() => undefined); // likewise
        inFlight.push(written);
        if (inFlight.length >= depth) await inFlight.shift();
        if (sink.closed) stopped ??= "the output was closed by its reader: stopped reading";
        if (stopped !== undefined) break;
    }
    await written;
    await sink.end(writerFor().end(inputHeader));
    if (mine + 1 < resumed.length)
        throw new UsageError(`${options.outputPath} holds ${resumed.length} rows but the input has only ${mine + 1}: it was written from other input`);
    if (stopped !== undefined) progress.interrupt(() => log.warn(stopped!));
    progress.finish(pipeline.summary?.() ?? "");
    if (options.shard !== undefined && options.outputPath !== undefined)
        writeShardRecord(options.outputPath, { ...options.shard, rows: mine + 1, complete: stopped === undefined && !sink.closed && readError === undefined });
    if (readError !== undefined) throw readError;
    return failed;
}


/**
 * The next row, or undefined once the signal aborts: a signal must not wait for a row that may be long in coming on
 * a pipe. It listens only while this read is pending; a listener left on the signal (or a race with a promise that
 * never settles) per read would keep every row read alive until the end of the run.
 */
function nextUnlessAborted<T>(rows: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T> | undefined> {
    if (signal === undefined) return rows.next();
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
        const onAbort = () => resolve(undefined); // the read given up on settles later, unheard
        signal.addEventListener("abort", onAbort, { once: true });
        rows.next().then(
            (next) => { signal.removeEventListener("abort", onAbort); resolve(next); },
            (error: unknown) => { signal.removeEventListener("abort", onAbort); reject(error); },
        );
    });
}
