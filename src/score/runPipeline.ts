import type { Writable } from "node:stream";
import { exitCodes, RowError, SkippedRow, UsageError } from "../errors.js";
import type { Io } from "../io.js";
import { checkInputs, formatOf } from "../input/openInput.js";
import { checkOutputPath } from "./outputGuard.js";
import type { InputFormat, InputRow } from "../input/inputRow.js";
import type { Conversation, ConversationFields } from "../conversation/toConversation.js";
import { taskKind, toScoringTask, type ScoringTask, type TaskKind } from "../conversation/scoringTask.js";
import { loadTemplate, readTemplateFile } from "../template/loadTemplate.js";
import { RewardEngine, type EngineOptions } from "../engine/rewardEngine.js";
import type { Tokenized } from "../engine/tokenizer.js";
import { contentSpans } from "../template/contentSpans.js";
import { createLog } from "../log.js";
import { createRowWriter, formatOfPath, type OutputFormat, type OutputRow, type RowWriter } from "../output/formats.js";
import { ResumeSink, type Sink } from "../output/sinks.js";
import { writeShardRecord, type Shard } from "./shards.js";
import { readFileHeader } from "../output/delimited.js";
import { openSink } from "./openSink.js";
import { scoreRows, type RowResult } from "./scoreRows.js";
import { filterWriter, type FilterOptions } from "../output/filterWriter.js";
import { groupKey } from "../output/groups.js";

export type { Io } from "../io.js";

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
    /** Special-token text inside message content: the special token (as Hugging Face reads it), or plain text. */
    contentSpecial?: "special" | "text";
    /** `--min-reward`, `--max-reward`, `--top-k`, `--rejects FILE`: clean in the same pass. */
    filter?: FilterOptions;
};

/**
 * One conversation of a task, rendered and tokenized; past the context (when scoring) only a lower bound of its
 * token count. `specialInContent`: a message holds special-token text.
 */
export type Prepared = { rendered: string; specialInContent: boolean } & Tokenized;

/** What a command does with the rows: the fields it adds, and where its rows go. */
export type Pipeline = {
    verb: string;
    /** The fields (columns) a row of this kind gains, `error` last. */
    columns(kind: TaskKind): string[];
    /** The fields for a task whose conversations were all prepared; throws RowError for the row. */
    step(engine: RewardEngine, task: ScoringTask, prepared: Prepared[], prepare: (c: Conversation) => Prepared, record: Record<string, unknown>): Promise<Record<string, unknown>>;
    /** Wraps the format's writer: ranking, pairing. */
    wrapWriter?(writer: RowWriter): RowWriter;
    /** Sees every finished row, in order. */
    onRow?(row: OutputRow): void;
    summary?(): string;
    /** Where rows go; `undefined` writes nothing (eval without --per-row). Default: -o FILE or stdout. */
    output?: { stream: Writable | undefined; format: OutputFormat };
};

/** The output format: `--format`, else the output file's extension, else a table on a terminal, else like the input. */
export function chooseFormat(options: Pick<RunOptions, "format" | "outputPath" | "inputs" | "inputFormat">, stdoutIsTTY: boolean): OutputFormat {
    if (options.format !== undefined) return options.format;
    if (options.outputPath !== undefined) {
        const format = formatOfPath(options.outputPath);
        if (format === undefined)
            throw new UsageError(`cannot tell the format of ${options.outputPath}: name it .jsonl, .json, .csv, .tsv, .parquet or .txt, or give --format`);
        return format;
    }
    if (stdoutIsTTY) return "table";
    const first = formatOf(options.inputs[0]!, options.inputFormat);
    return first === "csv" || first === "tsv" ? first : "jsonl";
}

export async function runPipeline(options: RunOptions, io: Io, pipeline: Pipeline): Promise<number> {
    checkInputs({ paths: options.inputs, format: options.inputFormat });
    checkOutputPath(options.outputPath, options);
    checkOutputPath(options.filter?.rejectsPath, options);
    // before the output is opened (and an existing one emptied) for a run that cannot start
    const templateSource = readTemplateFile(options.chatTemplatePath);
    const format = pipeline.output?.format ?? chooseFormat(options, io.stdout.isTTY === true);
    const sink = openSink(options, io, pipeline, format, templateSource);
    try {
        return await runWithSink(options, io, pipeline, format, templateSource, sink);
    } finally {
        sink.release();
    }
}

async function runWithSink(options: RunOptions, io: Io, pipeline: Pipeline, format: OutputFormat, templateSource: string | undefined, sink: Sink): Promise<number> {
    const log = createLog(io.stderr, options);
    const engine = await RewardEngine.load(options, log);
    try {
        const template = loadTemplate(engine, templateSource, log);
        if (!options.vocabOnly) log.info(engine.description);
        // render counts every token; scoring stops counting past the context
        const limit = options.vocabOnly ? undefined : options.contextSize;
        const prepare = (conversation: Conversation): Prepared => {
            const rendered = template.render(conversation);
            const plain = options.contentSpecial === "text" ? contentSpans(template, conversation, rendered) : [];
            if (plain === undefined) throw new RowError("cannot find the message contents in the rendered text, to read them as plain text (--content-special text)");
            const specialInContent = conversation.some((message) => engine.tokenizer.hasSpecialText(message.content));
            return { rendered, specialInContent, ...engine.tokenizer.tokenize(rendered, { limit, plain }) };
        };
        // rows marked by --on-overlong skip|truncate: CSV/TSV give the marker its own column, before error
        const markers = options.onOverlong === "skip" ? ["skipped"] : options.onOverlong === "truncate" ? ["truncated"] : [];
        const processRow = async (row: InputRow): Promise<RowResult> => {
            let task: ScoringTask | undefined;
            try {
                if (row.record === undefined) throw new RowError(row.parseError ?? "no record");
                task = toScoringTask(row.record, options.fields);
                const prepared = task.conversations.map(prepare);
                const fields = await pipeline.step(engine, task, prepared, prepare, row.record);
                return { out: { input: row, fields, task }, tokens: prepared.reduce((n, p) => n + (p.tokens?.length ?? 0), 0) };
            } catch (error) {
                if (!(error instanceof RowError)) throw error;
                const names = pipeline.columns(task?.kind ?? kindOf(row)).filter((name) => name !== "error");
                const empty = Object.fromEntries(names.map((name) => [name, null]));
                if (error instanceof SkippedRow)
                    return { out: { input: row, fields: { ...empty, skipped: error.message }, task }, tokens: 0, skipped: error.message };
                return { out: { input: row, fields: { ...empty, error: error.message }, task }, tokens: 0, error: error.message };
            }
        };
        let writer: RowWriter | undefined;
        let filter: ReturnType<typeof filterWriter> | undefined;
        const added = (row: InputRow | undefined) => {
            const columns = pipeline.columns(row === undefined ? "single" : kindOf(row));
            return [...columns.slice(0, -1), ...markers, ...columns.slice(-1)];
        };
        const writerOptions = {
            added,
            warn: (message: string) => log.warn(message),
            color: log.color,
            width: io.stdout.columns ?? 100,
        };
        const writerFor = () => writer ??= withFilter(wrap(pipeline, createRowWriter(format, {
            ...writerOptions,
            continuing: sink instanceof ResumeSink && sink.done.length > 0 && (format === "csv" || format === "tsv")
                ? readFileHeader(sink.path, format === "csv" ? "," : "\t") : undefined,
        })));
        const withFilter = (kept: RowWriter): RowWriter => {
            if (options.filter === undefined) return kept;
            const path = options.filter.rejectsPath;
            const rejects = path === undefined ? undefined
                : { path, writer: createRowWriter(formatOfPath(path) ?? format, { ...writerOptions, added: (row) => [...added(row), "dropped"] }) };
            return filter = filterWriter(kept, rejects, options.field, options.filter, groupKey(options.groupBy));
        };
        if (options.shard !== undefined && options.outputPath !== undefined)
            writeShardRecord(options.outputPath, { ...options.shard, rows: 0, complete: false });
        const summary = () => (pipeline.summary?.() ?? "") + (filter?.summary() ?? "");
        const failed = await scoreRows(options, engine.parallel, io, log, { ...pipeline, summary }, processRow, writerFor, sink);
        if (options.signal?.aborted) return exitCodes.interrupted;
        if (sink.closed) return exitCodes.outputClosed;
        return failed > 0 ? exitCodes.someRowsFailed : exitCodes.ok;
    } finally {
        await engine.dispose();
    }
}

function wrap(pipeline: Pipeline, writer: RowWriter): RowWriter {
    return pipeline.wrapWriter ? pipeline.wrapWriter(writer) : writer;
}

/** A row's task kind from its field names, even when the row itself cannot be read as a task. */
function kindOf(row: InputRow): TaskKind {
    return taskKind(row.header?.names ?? Object.keys(row.record ?? {}));
}
