import { createWriteStream } from "node:fs";
import { once } from "node:events";
import type { Readable, Writable } from "node:stream";
import type { Token } from "node-llama-cpp";
import { exitCodes, RowError, UsageError } from "../errors.js";
import { checkInputs, countRows, formatOf, readInputs } from "../input/openInput.js";
import type { InputFormat, InputRow } from "../input/inputRow.js";
import { toConversation, type Conversation, type ConversationFields } from "../conversation/toConversation.js";
import { loadTemplate } from "../template/loadTemplate.js";
import { RewardEngine, type EngineOptions } from "../engine/rewardEngine.js";
import { createLog, type Log } from "../log.js";
import { createRowWriter, formatOfPath, type OutputFormat, type OutputRow, type RowWriter } from "../output/formats.js";
import { LineWriter } from "../output/lineWriter.js";
import { Progress } from "../output/progress.js";

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
    quiet?: boolean;
    /** Aborted on SIGINT/SIGTERM: stop reading, finish the rows in flight, exit 130. */
    signal?: AbortSignal;
};

/** What a command adds to a row it could read: the fields, or a RowError. */
type RowStep = (engine: RewardEngine, row: InputRow, rendered: string, tokens: Token[]) => Promise<Record<string, unknown>>;

type Command = { verb: string; added: string[]; step: RowStep; summary?: () => string };

/**
 * Scores every conversation: one output row per input row, in input order, with the reward field.
 * Returns the exit status: 0 when every row was scored, 3 when some were not, 130 when interrupted.
 */
export async function runScore(options: RunOptions, io: Io): Promise<number> {
    const stats = { min: Infinity, max: -Infinity, sum: 0, count: 0 };
    return runPipeline(options, io, {
        verb: "scored",
        added: [options.field, "error"],
        step: async (engine, _row, _rendered, tokens) => {
            if (tokens.length > options.contextSize)
                throw new RowError(`the conversation is ${tokens.length} tokens, over the ${options.contextSize}-token context (--context-size)`);
            const reward = await engine.reward(tokens);
            stats.min = Math.min(stats.min, reward);
            stats.max = Math.max(stats.max, reward);
            stats.sum += reward;
            stats.count++;
            return { [options.field]: reward };
        },
        summary: () => stats.count === 0 ? "" :
            `; reward min ${stats.min.toFixed(3)}, mean ${(stats.sum / stats.count).toFixed(3)}, max ${stats.max.toFixed(3)}`,
    });
}

/** Prints each record with the exact text the model sees (`"rendered"`) and its token count (`"n_tokens"`). */
export async function runRender(options: RunOptions, io: Io): Promise<number> {
    return runPipeline({ ...options, vocabOnly: true }, io, {
        verb: "rendered",
        added: ["rendered", "n_tokens", "error"],
        step: async (_engine, _row, rendered, tokens) => ({ rendered, n_tokens: tokens.length }),
    });
}

/** The output format: `--format`, else the output file's extension, else a table on a terminal, else like the input. */
function chooseFormat(options: RunOptions, io: Io): OutputFormat {
    if (options.format !== undefined) return options.format;
    if (options.outputPath !== undefined) {
        const format = formatOfPath(options.outputPath);
        if (format === undefined)
            throw new UsageError(`cannot tell the format of ${options.outputPath}: name it .jsonl, .json, .csv, .tsv or .txt, or give --format`);
        return format;
    }
    if (io.stdout.isTTY) return "table";
    const first = formatOf(options.inputs[0]!, options.inputFormat);
    return first === "csv" || first === "tsv" ? first : "jsonl";
}

async function runPipeline(options: RunOptions, io: Io, command: Command): Promise<number> {
    checkInputs({ paths: options.inputs, format: options.inputFormat });
    const format = chooseFormat(options, io);
    const log = createLog(io.stderr, options);
    const engine = await RewardEngine.load(options, log);
    try {
        const template = loadTemplate(engine, options.chatTemplatePath, log);
        const output = options.outputPath === undefined ? io.stdout : createWriteStream(options.outputPath);
        const writer = createRowWriter(format, {
            added: command.added,
            color: log.color,
            width: io.stdout.columns ?? 100,
        });
        const failed = await scoreRows(options, engine.parallel, io, log, command, async (row) => {
            let conversation: Conversation | undefined;
            try {
                if (row.record === undefined) throw new RowError(row.parseError ?? "no record");
                conversation = toConversation(row.record, options.fields);
                const rendered = template.render(conversation);
                const tokens = engine.tokenize(rendered);
                const fields = await command.step(engine, row, rendered, tokens);
                return { out: { input: row, fields, conversation }, tokens: tokens.length };
            } catch (error) {
                if (!(error instanceof RowError)) throw error;
                const fields = { ...Object.fromEntries(command.added.map((name) => [name, null])), error: error.message };
                return { out: { input: row, fields, conversation }, tokens: 0, error: error.message };
            }
        }, writer, output);
        if (output !== io.stdout) {
            output.end();
            await once(output, "finish");
        }
        if (options.signal?.aborted) return exitCodes.interrupted;
        return failed > 0 ? exitCodes.someRowsFailed : exitCodes.ok;
    } finally {
        await engine.dispose();
    }
}

type RowResult = { out: OutputRow; tokens: number; error?: string };

/** Reads, processes and writes every row in input order; returns how many rows could not be processed. */
async function scoreRows(
    options: RunOptions,
    parallel: number,
    io: Io,
    log: Log,
    command: Command,
    processRow: (row: InputRow) => Promise<RowResult>,
    writer: RowWriter,
    output: Writable,
): Promise<number> {
    const total = await countRows(options.inputs, options.inputFormat);
    const progress = new Progress(log, command.verb, total);
    const lines = new LineWriter(output);
    let failed = 0;
    let stopped: string | undefined;
    const emit = async (result: RowResult) => {
        if (result.error !== undefined) {
            failed++;
            progress.interrupt(() => log.warn(`${result.out.input.source}:${result.out.input.line}: ${result.error}`));
            if (options.maxErrors !== undefined && failed >= options.maxErrors && stopped === undefined)
                stopped = `stopped after ${failed} rows could not be scored (--max-errors ${options.maxErrors})`;
        }
        progress.row(result.tokens, result.error !== undefined);
        await lines.write(writer.row(result.out));
    };

    // A small window of rows in flight: the next row renders and tokenizes while the engine evaluates,
    // and `parallel` sequences stay busy. Results are written strictly in input order.
    const depth = parallel + 1;
    const pending: Promise<RowResult>[] = [];
    for await (const row of readInputs({ paths: options.inputs, stdin: io.stdin, format: options.inputFormat })) {
        const result = processRow(row);
        result.catch(() => undefined); // awaited below, in order; this only keeps Node from reporting it early
        pending.push(result);
        if (pending.length >= depth) await emit(await pending.shift()!);
        if (options.signal?.aborted) stopped ??= "interrupted: finishing the rows in flight";
        if (stopped !== undefined || lines.closed) break;
    }
    for (const result of pending) await emit(await result);
    await lines.write(writer.end());
    if (stopped !== undefined) progress.interrupt(() => log.warn(stopped!));
    progress.finish(command.summary?.() ?? "");
    return failed;
}
