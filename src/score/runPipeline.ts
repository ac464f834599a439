import type { Readable, Writable } from "node:stream";
import type { Token } from "node-llama-cpp";
import { exitCodes, RowError } from "../errors.js";
import { checkInputs, readInputs } from "../input/openInput.js";
import type { InputRow } from "../input/readJsonl.js";
import { toConversation } from "../conversation/toConversation.js";
import { loadTemplate } from "../template/loadTemplate.js";
import { RewardEngine, type EngineOptions } from "../engine/rewardEngine.js";
import { createLog } from "../log.js";
import { jsonlLine } from "../output/jsonl.js";
import { LineWriter } from "../output/lineWriter.js";
import { Progress } from "../output/progress.js";

/** The streams a run reads and writes; passed in so that tests can run the core in-process. */
export type Io = {
    stdin: Readable;
    stdout: Writable;
    stderr: Writable & { isTTY?: boolean };
};

export type RunOptions = EngineOptions & {
    inputs: string[];
    chatTemplatePath?: string;
    quiet?: boolean;
};

type RowResult = { row: InputRow; line: string; tokens: number; error?: string; reward?: number };

/** What a command does with one prepared row. */
type RowStep = (row: InputRow, rendered: string, tokens: Token[]) => Promise<Record<string, unknown>>;

/**
 * Scores every conversation: one JSONL line per non-blank input line, in input order, with `"reward"`.
 * Returns the exit status: 0 when every row was scored, 3 when some were not.
 */
export async function runScore(options: RunOptions, io: Io): Promise<number> {
    const stats = { min: Infinity, max: -Infinity, sum: 0, count: 0 };
    return runPipeline(options, io, "scored", async (engine, _row, _rendered, tokens) => {
        if (tokens.length > options.contextSize)
            throw new RowError(`the conversation is ${tokens.length} tokens, over the ${options.contextSize}-token context (--context-size)`);
        const reward = await engine.reward(tokens);
        stats.min = Math.min(stats.min, reward);
        stats.max = Math.max(stats.max, reward);
        stats.sum += reward;
        stats.count++;
        return { reward };
    }, () => stats.count === 0 ? "" :
        `; reward min ${stats.min.toFixed(3)}, mean ${(stats.sum / stats.count).toFixed(3)}, max ${stats.max.toFixed(3)}`);
}

/** Prints each record with the exact text the model sees (`"rendered"`) and its token count (`"n_tokens"`). */
export async function runRender(options: RunOptions, io: Io): Promise<number> {
    return runPipeline({ ...options, vocabOnly: true }, io, "rendered",
        async (_engine, _row, rendered, tokens) => ({ rendered, n_tokens: tokens.length }));
}

async function runPipeline(
    options: RunOptions,
    io: Io,
    verb: string,
    step: (engine: RewardEngine, ...args: Parameters<RowStep>) => ReturnType<RowStep>,
    summary: () => string = () => "",
): Promise<number> {
    checkInputs(options.inputs);
    const log = createLog(io.stderr, options);
    const engine = await RewardEngine.load(options, log);
    try {
        const template = loadTemplate(engine, options.chatTemplatePath, log);
        const failureFields = verb === "scored" ? { reward: null } : { rendered: null, n_tokens: null };
        const processRow = async (row: InputRow): Promise<RowResult> => {
            try {
                if (row.record === undefined) throw new RowError(row.parseError ?? "no record");
                const rendered = template.render(toConversation(row.record));
                const tokens = engine.tokenize(rendered);
                const fields = await step(engine, row, rendered, tokens);
                return { row, tokens: tokens.length, line: jsonlLine(row, fields) };
            } catch (error) {
                if (!(error instanceof RowError)) throw error;
                const line = jsonlLine(row, { ...failureFields, error: error.message });
                return { row, tokens: 0, line, error: error.message };
            }
        };

        const progress = new Progress(log, verb);
        const writer = new LineWriter(io.stdout);
        let failed = 0;
        const emit = async (result: RowResult) => {
            if (result.error !== undefined) {
                failed++;
                progress.interrupt(() => log.warn(`${result.row.source}:${result.row.line}: ${result.error}`));
            }
            progress.row(result.tokens, result.error !== undefined);
            await writer.write(result.line);
        };

        // A small window of rows in flight: the next row renders and tokenizes while the engine evaluates,
        // and `parallel` sequences stay busy. Results are written strictly in input order.
        const depth = options.parallel + 1;
        const pending: Promise<RowResult>[] = [];
        for await (const row of readInputs({ paths: options.inputs, stdin: io.stdin })) {
            const result = processRow(row);
            result.catch(() => undefined); // awaited below, in order; this only keeps Node from reporting it early
            pending.push(result);
            if (pending.length >= depth) await emit(await pending.shift()!);
            if (writer.closed) break;
        }
        for (const result of pending) await emit(await result);
        progress.finish(summary());
        return failed > 0 ? exitCodes.someRowsFailed : exitCodes.ok;
    } finally {
        await engine.dispose();
    }
}
