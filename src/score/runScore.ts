import { RowError, SkippedRow } from "../errors.js";
import type { Io } from "../io.js";
import { rewardFieldNames, rewardFields } from "../conversation/scoringTask.js";
import { groupKey, rankingWriter } from "../output/groups.js";
import { runPipeline, type Pipeline, type RunOptions } from "./runPipeline.js";
import { truncate } from "./truncate.js";

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
    const stats = { min: Infinity, max: -Infinity, sum: 0, count: 0, special: 0 };
    return {
        verb: "scored",
        columns: (kind) => [...rewardFieldNames(kind, options.field), "error"],
        step: async (engine, task, prepared, prepare) => {
            // tokenizing stopped past the context: the count is a lower bound
            const over = prepared.find((p) => p.atLeast !== undefined);
            if (over !== undefined) {
                const size = `the conversation is at least ${over.atLeast} tokens, over the ${options.contextSize}-token context (--context-size)`;
                if (options.onOverlong === "skip") throw new SkippedRow(size);
                if (options.onOverlong !== "truncate") throw new RowError(size);
                prepared = truncate(task.conversations, prepare, options.contextSize);
            }
            // One after the other: the conversations of a task share their prompt, which stays in the KV cache.
            // Identical responses are scored once, so that they tie exactly.
            const rewards: number[] = [];
            const seen = new Map<string, number>();
            for (const { tokens } of prepared) {
                const key = prepared.length > 1 ? tokens!.join(",") : "";
                const reward = seen.get(key) ?? await engine.reward(tokens!);
                seen.set(key, reward);
                rewards.push(reward);
            }
            for (const r of rewards) {
                stats.min = Math.min(stats.min, r);
                stats.max = Math.max(stats.max, r);
                stats.sum += r;
                stats.count++;
            }
            // a message that writes special tokens can forge turns of the conversation: cleaning jobs look for these rows
            const special = prepared.some((p) => p.specialInContent);
            if (special) stats.special++;
            return {
                ...rewardFields(task, rewards, options.field),
                ...(over !== undefined ? { truncated: true } : {}),
                ...(special ? { special_tokens_in_content: true } : {}),
            };
        },
        summary: () => (stats.count === 0 ? "" :
            `; reward min ${stats.min.toFixed(3)}, mean ${(stats.sum / stats.count).toFixed(3)}, max ${stats.max.toFixed(3)}`) +
            (stats.special === 0 ? "" : `; warning: ${stats.special} rows with special-token text in a message (special_tokens_in_content)`),
    };
}

/** Prints each record with the exact text the model sees (`"rendered"`) and its token count (`"n_tokens"`). */
export async function runRender(options: RunOptions, io: Io): Promise<number> {
    // the vocabulary needs no GPU backend
    return runPipeline({ ...options, vocabOnly: true, gpu: "cpu" }, io, {
        verb: "rendered",
        columns: () => ["rendered", "n_tokens", "error"],
        step: async (_engine, task, prepared) => task.kind === "single"
            ? { rendered: prepared[0]!.rendered, n_tokens: prepared[0]!.tokens!.length }
            : { rendered: prepared.map((p) => p.rendered), n_tokens: prepared.map((p) => p.tokens!.length) },
    });
}
