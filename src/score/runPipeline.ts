import { createHash } from "node:crypto";
import { closeSync, createWriteStream, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import type { Token } from "node-llama-cpp";
import { exitCodes, RowError, SkippedRow, UsageError } from "../errors.js";
import { checkInputs, countRows, formatOf, readInputs } from "../input/openInput.js";
import { refuseInputAsOutput } from "./outputGuard.js";
import type { InputFormat, InputRow } from "../input/inputRow.js";
import type { Conversation, ConversationFields } from "../conversation/toConversation.js";
import { rewardFieldNames, rewardFields, taskKind, toScoringTask, type ScoringTask, type TaskKind } from "../conversation/scoringTask.js";
import { loadTemplate, readTemplateFile } from "../template/loadTemplate.js";
import { RewardEngine, type EngineOptions } from "../engine/rewardEngine.js";
import { createLog, type Log } from "../log.js";
import { createRowWriter, formatOfPath, type OutputFormat, type OutputRow, type RowWriter } from "../output/formats.js";
import { nullSink, ResumeSink, streamSink, type Sink } from "../output/sinks.js";
import { writeShardRecord, type Shard } from "./shards.js";
import { groupKey, rankingWriter } from "../output/groups.js";
import { outputNames, readFileHeader } from "../output/delimited.js";
import { Progress } from "../output/progress.js";
import { modelParts } from "../model/modelInfo.js";
import { defaultMaxLineBytes } from "../input/readJsonl.js";

/** The streams a run reads and writes; passed in so that tests can run the core in-process. */
export type Io = {
    stdin: Readable;
    stdout: Writable & { isTTY?: boolean; columns?: number };
    stderr: Writable & { isTTY?: boolean };
};

export type RunOptions = EngineOptions & {
    inputs: string[];
    inputFormat?: InputFormat;
    fields: ConversationFields;
    chatTemplatePath?: string;
    /** Write here instead of stdout; the extension picks the format unless `format` is given. */
    outputPath?: string;
    format?: OutputFormat;
    /** Name of the reward field/column. */
    field: string;
    /** Stop reading after this many rows could not be scored. */
    maxErrors?: number;
    /** A record longer than this is an error row, so that one huge line cannot exhaust memory. */
    maxRecordBytes?: number;
    quiet?: boolean;
    /** Seconds between progress lines when stderr is not a terminal (CI logs). */
    progressSeconds?: number;
    /** Aborted on SIGINT/SIGTERM: stop reading, finish the rows in flight, exit 130. */
    signal?: AbortSignal;
    /** Add `rank` and `z` within each run of rows sharing a prompt (or the `groupBy` field). */
    rank?: boolean;
    groupBy?: string;
    /** `-o FILE --resume`: keep the rows FILE already holds and append the rest. */
    resume?: boolean;
    /** `--shard K/N`: only rows i with i mod N == K. */
    shard?: Shard;
    /** A conversation longer than the context: an error row, a skipped row, or its oldest turns dropped. */
    onOverlong?: "error" | "skip" | "truncate";
};

/** One conversation of a task, rendered and tokenized. */
export type Prepared = { rendered: string; tokens: Token[] };

/** What a command does with the rows: the fields it adds, and where its rows go. */
export type Pipeline = {
    verb: string;
    /** The fields (columns) a row of this kind gains, `error` last. */
    columns(kind: TaskKind): string[];
    /** The fields for a task whose conversations were all prepared; throws RowError for the row. */
    step(engine: RewardEngine, task: ScoringTask, prepared: Prepared[], prepare: (c: Conversation) => Prepared): Promise<Record<string, unknown>>;
    /** Wraps the format's writer: ranking, pairing. */
    wrapWriter?(writer: RowWriter): RowWriter;
    /** Sees every finished row, in order. */
    onRow?(row: OutputRow): void;
    summary?(): string;
    /** Where rows go; `undefined` writes nothing (eval without --per-row). Default: -o FILE or stdout. */
    output?: { stream: Writable | undefined; format: OutputFormat };
};

/**
 * Scores every conversation: one output row per input row, in input order, with the reward field(s).
 * Returns the exit status: 0 when every row was scored, 3 when some were not, 130 when interrupted.
 */
export async function runScore(options: RunOptions, io: Io): Promise<number> {
    const pipeline = scorePipeline(options);
    if (!options.rank) return runPipeline(options, io, pipeline);
    return runPipeline(options, io, {
        ...pipeline,
        columns: (kind) => (kind === "single" ? [options.field, "rank", "z", "error"] : pipeline.columns(kind)),
        wrapWriter: (writer) => rankingWriter(writer, options.field, groupKey(options.groupBy)),
    });
}

/** The score command's pipeline, which eval, pairs and --rank build on. */
export function scorePipeline(options: RunOptions): Pipeline {
    const stats = { min: Infinity, max: -Infinity, sum: 0, count: 0 };
    return {
        verb: "scored",
        columns: (kind) => [...rewardFieldNames(kind, options.field), "error"],
        step: async (engine, task, prepared, prepare) => {
            const over = prepared.find((p) => p.tokens.length > options.contextSize);
            if (over !== undefined) {
                const size = `the conversation is ${over.tokens.length} tokens, over the ${options.contextSize}-token context (--context-size)`;
                if (options.onOverlong === "skip") throw new SkippedRow(size);
                if (options.onOverlong !== "truncate") throw new RowError(size);
                prepared = truncate(task.conversations, prepare, options.contextSize);
            }
            // One after the other: the conversations of a task share their prompt, which stays in the KV cache.
            // Identical responses are scored once, so that they tie exactly.
            const rewards: number[] = [];
            const seen = new Map<string, number>();
            for (const { tokens } of prepared) {
                const key = prepared.length > 1 ? tokens.join(",") : "";
                const reward = seen.get(key) ?? await engine.reward(tokens);
                seen.set(key, reward);
                rewards.push(reward);
            }
            for (const r of rewards) {
                stats.min = Math.min(stats.min, r);
                stats.max = Math.max(stats.max, r);
                stats.sum += r;
                stats.count++;
            }
            return { ...rewardFields(task, rewards, options.field), ...(over !== undefined ? { truncated: true } : {}) };
        },
        summary: () => stats.count === 0 ? "" :
            `; reward min ${stats.min.toFixed(3)}, mean ${(stats.sum / stats.count).toFixed(3)}, max ${stats.max.toFixed(3)}`,
    };
}

/**
 * Drops the oldest exchanges after the system message (from one user turn to the next) until every conversation
 * of the task fits, so that what is kept still begins with a user turn; the final user and assistant turns are
 * never cut. All conversations of a task (the responses to one prompt) lose the same turns, so that their rewards
 * stay comparable.
 */
function truncate(conversations: Conversation[], prepare: (c: Conversation) => Prepared, contextSize: number): Prepared[] {
    const head = conversations[0]![0]?.role === "system" ? 1 : 0;
    for (let cut = head + 1; cut < conversations[0]!.length; cut++) {
        if (!conversations.every((c) => c[cut]?.role === "user")) continue;
        const prepared = conversations.map((conversation) => prepare([...conversation.slice(0, head), ...conversation.slice(cut)]));
        if (prepared.every((p) => p.tokens.length <= contextSize)) return prepared;
    }
    throw new RowError(`even the final turns are over the ${contextSize}-token context (--context-size)`);
}

/** Prints each record with the exact text the model sees (`"rendered"`) and its token count (`"n_tokens"`). */
export async function runRender(options: RunOptions, io: Io): Promise<number> {
    return runPipeline({ ...options, vocabOnly: true }, io, {
        verb: "rendered",
        columns: () => ["rendered", "n_tokens", "error"],
        step: async (_engine, task, prepared) => task.kind === "single"
            ? { rendered: prepared[0]!.rendered, n_tokens: prepared[0]!.tokens.length }
            : { rendered: prepared.map((p) => p.rendered), n_tokens: prepared.map((p) => p.tokens.length) },
    });
}

/** The output format: `--format`, else the output file's extension, else a table on a terminal, else like the input. */
export function chooseFormat(options: Pick<RunOptions, "format" | "outputPath" | "inputs" | "inputFormat">, stdoutIsTTY: boolean): OutputFormat {
    if (options.format !== undefined) return options.format;
    if (options.outputPath !== undefined) {
        const format = formatOfPath(options.outputPath);
        if (format === undefined)
            throw new UsageError(`cannot tell the format of ${options.outputPath}: name it .jsonl, .json, .csv, .tsv or .txt, or give --format`);
        return format;
    }
    if (stdoutIsTTY) return "table";
    const first = formatOf(options.inputs[0]!, options.inputFormat);
    return first === "csv" || first === "tsv" ? first : "jsonl";
}

export async function runPipeline(options: RunOptions, io: Io, pipeline: Pipeline): Promise<number> {
    checkInputs({ paths: options.inputs, format: options.inputFormat });
    refuseInputAsOutput(options.outputPath, options.inputs);
    // before the output is opened (and an existing one emptied) for a run that cannot start
    const templateSource = readTemplateFile(options.chatTemplatePath);
    const format = pipeline.output?.format ?? chooseFormat(options, io.stdout.isTTY === true);
    const sink = openSink(options, io, pipeline, format, templateSource);
    const log = createLog(io.stderr, options);
    const engine = await RewardEngine.load(options, log);
    try {
        const template = loadTemplate(engine, templateSource, log);
        if (!options.vocabOnly) log.info(engine.description);
        const prepare = (conversation: Conversation): Prepared => {
            const rendered = template.render(conversation);
            return { rendered, tokens: engine.tokenize(rendered) };
        };
        // rows marked by --on-overlong skip|truncate: CSV/TSV give the marker its own column, before error
        const markers = options.onOverlong === "skip" ? ["skipped"] : options.onOverlong === "truncate" ? ["truncated"] : [];
        const processRow = async (row: InputRow): Promise<RowResult> => {
            let task: ScoringTask | undefined;
            try {
                if (row.record === undefined) throw new RowError(row.parseError ?? "no record");
                task = toScoringTask(row.record, options.fields);
                const prepared = task.conversations.map(prepare);
                const fields = await pipeline.step(engine, task, prepared, prepare);
                return { out: { input: row, fields: clearStale(row, fields), task }, tokens: prepared.reduce((n, p) => n + p.tokens.length, 0) };
            } catch (error) {
                if (!(error instanceof RowError)) throw error;
                const names = pipeline.columns(task?.kind ?? kindOf(row)).filter((name) => name !== "error");
                const empty = Object.fromEntries(names.map((name) => [name, null]));
                if (error instanceof SkippedRow)
                    return { out: { input: row, fields: clearStale(row, { ...empty, skipped: error.message }), task }, tokens: 0, skipped: error.message };
                return { out: { input: row, fields: clearStale(row, { ...empty, error: error.message }), task }, tokens: 0, error: error.message };
            }
        };
        let writer: RowWriter | undefined;
        const added = (row: InputRow | undefined) => {
            const columns = pipeline.columns(row === undefined ? "single" : kindOf(row));
            return [...columns.slice(0, -1), ...markers, ...columns.slice(-1)];
        };
        const writerFor = () => writer ??= wrap(pipeline, createRowWriter(format, {
            added,
            warn: (message) => log.warn(message),
            color: log.color,
            width: io.stdout.columns ?? 100,
            continuing: sink instanceof ResumeSink && sink.done.length > 0 && (format === "csv" || format === "tsv")
                ? readFileHeader(sink.path, format === "csv" ? "," : "\t") : undefined,
        }));
        if (options.shard !== undefined && options.outputPath !== undefined)
            writeShardRecord(options.outputPath, { ...options.shard, rows: 0, complete: false });
        const failed = await scoreRows(options, engine.parallel, io, log, pipeline, processRow, writerFor, sink);
        if (options.signal?.aborted) return exitCodes.interrupted;
        if (sink.closed) return exitCodes.outputClosed;
        return failed > 0 ? exitCodes.someRowsFailed : exitCodes.ok;
    } finally {
        await engine.dispose();
    }
}

/**
 * A scored file scored again (its rows hold this run's reward fields): the old error or marker of a row is not this
 * run's, and becomes null. In a file never scored, fields of those names are the user's and stay.
 */
function clearStale(row: InputRow, fields: Record<string, unknown>): Record<string, unknown> {
    const record = row.record;
    const scored = record !== undefined && Object.keys(fields).some((name) => !outputNames.includes(name) && Object.hasOwn(record, name));
    if (scored) for (const name of outputNames) if (Object.hasOwn(record, name) && !Object.hasOwn(fields, name)) fields[name] = null;
    return fields;
}

/**
 * What the text of a row depends on, so that a resumed file is never finished with another model or other settings.
 * Not the backend, threads or --parallel: a lost run may go on on another machine.
 */
function resumeSettings(options: RunOptions, format: OutputFormat, templateSource: string | undefined): Record<string, string | number | boolean> {
    return {
        format,
        model: modelIdentity(options.modelPath),
        chatTemplate: templateSource === undefined ? "the model's" : createHash("sha256").update(templateSource).digest("hex").slice(0, 16),
        field: options.field,
        rewardToken: options.rewardToken,
        precise: options.precise,
        flashAttention: options.flashAttention ?? false,
        contextSize: options.contextSize,
        maxRecordBytes: options.maxRecordBytes ?? defaultMaxLineBytes,
        onOverlong: options.onOverlong ?? "error",
        fields: JSON.stringify(options.fields),
        shard: options.shard === undefined ? "none" : `${options.shard.index}/${options.shard.count}`,
    };
}

/**
 * A model file's name (through any symlink), size, and a digest of the first and last MiB of each of its parts: its
 * metadata and some of its weights, so that two checkpoints of the same name and size tell apart without reading
 * tens of gigabytes.
 */
function modelIdentity(path: string): string {
    const hash = createHash("sha256");
    let total = 0;
    const real = realpathSync(path);
    for (const part of modelParts(real)) {
        const fd = openSync(part, "r");
        try {
            const size = fstatSync(fd).size, span = Math.min(size, 1 << 20);
            total += size;
            for (const position of [0, size - span]) {
                const bytes = Buffer.alloc(span);
                readSync(fd, bytes, 0, span, position);
                hash.update(bytes);
            }
        } finally {
            closeSync(fd);
        }
    }
    return `${basename(real)} (${total} bytes, ${hash.digest("hex").slice(0, 16)})`;
}

/** Where rows go: a resumable file, the command's own stream, `-o FILE`, or stdout. */
function openSink(options: RunOptions, io: Io, pipeline: Pipeline, format: OutputFormat, templateSource: string | undefined): Sink {
    if (options.resume) {
        if (options.outputPath === undefined) throw new UsageError("--resume needs -o FILE: it continues that file");
        if (format !== "jsonl" && format !== "csv" && format !== "tsv")
            throw new UsageError(`--resume works with jsonl, csv and tsv output, not ${format}`);
        return new ResumeSink(options.outputPath, resumeSettings(options, format, templateSource));
    }
    const stream = pipeline.output !== undefined ? pipeline.output.stream
        : options.outputPath !== undefined ? createWriteStream(options.outputPath) : io.stdout;
    if (stream === undefined) return nullSink;
    if (stream === io.stdout) return streamSink(stream);
    const sink = streamSink(stream);
    return {
        get closed() { return sink.closed; },
        row: sink.row,
        end: async (text) => {
            await sink.end(text);
            stream.end();
            await once(stream, "finish");
        },
    };
}

function wrap(pipeline: Pipeline, writer: RowWriter): RowWriter {
    return pipeline.wrapWriter ? pipeline.wrapWriter(writer) : writer;
}

/** A row's task kind from its field names, even when the row itself cannot be read as a task. */
function kindOf(row: InputRow): TaskKind {
    return taskKind(row.header?.names ?? Object.keys(row.record ?? {}));
}

type RowResult = { out: OutputRow; tokens: number; error?: string; skipped?: string };

/** Reads, processes and writes every row in input order; returns how many rows could not be processed. */
async function scoreRows(
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
    const depth = parallel === 1 ? 2 : 8 * parallel + 1;
    const inFlight: Promise<void>[] = [];
    let written = Promise.resolve();
    const rows = readInputs({ paths: options.inputs, stdin: io.stdin, format: options.inputFormat, maxRecordBytes: options.maxRecordBytes })[Symbol.asyncIterator]();
    // A signal must not wait for the next row, which may be long in coming on a pipe.
    const interrupted = new Promise<undefined>((resolve) => options.signal?.addEventListener("abort", () => resolve(undefined), { once: true }));
    let index = -1, mine = -1;
    const nextRow = () => {
        const reading = rows.next();
        reading.catch(() => undefined); // given up on when interrupted: its end no longer matters
        return Promise.race([reading, interrupted]);
    };
    let readError: unknown;
    for (;;) {
        let next: IteratorResult<InputRow> | undefined;
        try {
            next = options.signal?.aborted ? undefined : await nextRow();
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
    await sink.end(writerFor().end());
    if (mine + 1 < resumed.length)
        throw new UsageError(`${options.outputPath} holds ${resumed.length} rows but the input has only ${mine + 1}: it was written from other input`);
    if (stopped !== undefined) progress.interrupt(() => log.warn(stopped!));
    progress.finish(pipeline.summary?.() ?? "");
    if (options.shard !== undefined && options.outputPath !== undefined)
        writeShardRecord(options.outputPath, { ...options.shard, rows: mine + 1, complete: stopped === undefined && !sink.closed && readError === undefined });
    if (readError !== undefined) throw readError;
    return failed;
}
