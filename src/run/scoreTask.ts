import { RowError, SkippedRow } from "../errors.js";
import { conversationName, rewardFields, taskKind, toScoringTask, type ScoringTask, type TaskKind } from "../conversation/scoringTask.js";
import type { Conversation, ConversationFields } from "../conversation/toConversation.js";
import type { RewardModel } from "../engine/workerPool.js";
import type { Tokenized } from "../engine/tokenizer.js";
import type { ScoringPlan } from "../plan/plan.js";
import type { InputRow } from "../records/row.js";
import type { OutRow } from "../conversation/scoringTask.js";
import type { Layout } from "../records/toolFields.js";
import type { Fields } from "../records/values.js";
import type { ChatTemplate } from "../template/chatTemplate.js";
import { contentSpans } from "../template/contentSpans.js";
import { preferenceStrength } from "../transforms/evalTally.js";
import { truncate } from "./truncate.js";
import { plural } from "../plural.js";

/**
 * One conversation of a task, rendered and tokenized; past the context (when scoring) only a lower bound of its
 * token count. `specialInContent`: a message holds special-token text.
 */
export type Prepared = { rendered: string; specialInContent: boolean } & Tokenized;

/** A row, done: its output row, the tokens it cost, and why it was not scored, if it was not. */
export type Scored = { out: OutRow; tokens: number; error?: string; skipped?: string };

/** A row's task kind from its field names, even when the row itself cannot be read as a task. */
export function kindOf(row: InputRow | undefined): TaskKind {
    return taskKind(row?.source.header?.names ?? Object.keys(row?.record ?? {}), row?.record);
}

/**
 * The step from a row to its fields: its task read from the record, each conversation rendered and tokenized, then
 * rewarded (score, pairs, eval) or described (render). A row that cannot be is an error row (or a skipped row), with
 * the command's fields empty.
 */
export function taskScorer(scoring: ScoringPlan, fields: ConversationFields, layout: (kind: TaskKind) => Layout, engine: RewardModel, template: ChatTemplate) {
    const stats = rewardStats(scoring.maxTokens);
    // render counts every token; scoring stops counting past the context (--max-tokens: every token, then cut)
    const limit = scoring.mode === "render" || scoring.maxTokens !== undefined ? undefined : scoring.contextSize;
    const prepare = (conversation: Conversation): Prepared => {
        const rendered = template.render(conversation);
        const plain = scoring.contentSpecial === "text" ? contentSpans(template, conversation, rendered) : [];
        if (plain === undefined) throw new RowError("cannot find the message contents in the rendered text, to read them as plain text (--content-special text)");
        const specialInContent = conversation.some((message) => engine.tokenizer.hasSpecialText(message.content));
        const tokenized = engine.tokenizer.tokenize(rendered, { limit, plain });
        // eval --max-tokens: the first N tokens, as the official RewardBench 2 run truncates its inputs
        if (scoring.maxTokens !== undefined && tokenized.tokens !== undefined && tokenized.tokens.length > scoring.maxTokens) {
            stats.cut();
            return { rendered, specialInContent, tokens: tokenized.tokens.slice(0, scoring.maxTokens) };
        }
        return { rendered, specialInContent, ...tokenized };
    };

    const rewards = async (task: ScoringTask, prepared: Prepared[]): Promise<Fields> => {
        // tokenizing stopped past the context: the count is a lower bound
        const overAt = prepared.findIndex((p) => p.atLeast !== undefined);
        const over = prepared[overAt];
        if (over !== undefined) {
            const name = conversationName(task.kind, overAt);
            const size = `${name === undefined ? "" : `"${name}": `}the conversation is at least ${over.atLeast} tokens, over the ${scoring.contextSize}-token context (--context-size)`;
            if (scoring.onOverlong === "skip") throw new SkippedRow(size);
            if (scoring.onOverlong !== "truncate") throw new RowError(size);
            prepared = truncate(task.conversations, prepare, scoring.contextSize);
        }
        // One after the other: the conversations of a task share their prompt, which stays in the KV cache.
        // Identical responses are scored once, so that they tie exactly.
        const values: number[] = [];
        const seen = new Map<string, number>();
        for (const { tokens } of prepared) {
            const key = prepared.length > 1 ? tokens!.join(",") : "";
            const reward = seen.get(key) ?? await engine.reward(tokens!);
            seen.set(key, reward);
            values.push(reward);
        }
        // a message that writes special tokens can forge turns of the conversation: cleaning jobs look for these rows
        const special = prepared.some((p) => p.specialInContent);
        stats.add(values, { special, empty: task.conversations.some((c) => c.at(-1)!.content.trim() === "") });
        return {
            ...rewardFields(task, values, scoring.field) as Fields,
            ...(over !== undefined ? { truncated: true } : {}),
            ...(special ? { special_tokens_in_content: true } : {}),
        };
    };

    const step = async (task: ScoringTask, prepared: Prepared[], record: Fields): Promise<Fields> => {
        if (scoring.mode === "render") return task.kind === "single"
            ? { rendered: prepared[0]!.rendered, n_tokens: prepared[0]!.tokens!.length }
            : { rendered: prepared.map((p) => p.rendered), n_tokens: prepared.map((p) => p.tokens!.length) };
        if (scoring.mode === "eval") {
            if (task.kind !== "chosenRejected" && task.kind !== "pair" && task.kind !== "candidates")
                throw new RowError("not a preference pair: eval needs chosen + rejected (answers or lists of answers), or response_1 + response_2 + preference_strength");
            if (task.kind === "pair") preferenceStrength(record);
        }
        return rewards(task, prepared);
    };

    return {
        score: (row: InputRow): Promise<Scored> => scoreRow(row, fields, layout, async (task, record) => {
            const prepared = task.conversations.map(prepare);
            return { fields: await step(task, prepared, record), tokens: prepared.reduce((n, p) => n + (p.tokens?.length ?? 0), 0) };
        }),
        summary: () => stats.summary(),
    };
}

/** The rewards of a run, for its summary line: "; reward min -4.2, mean -3.1, max -1.0", and the rows with an empty response or special-token text. */
export function rewardStats(maxTokens?: number) {
    const stats = { min: Infinity, max: -Infinity, sum: 0, count: 0, special: 0, empty: 0, cut: 0 };
    return {
        /** A conversation cut to --max-tokens. */
        cut(): void {
            stats.cut++;
        },
        /** A row's rewards; `special`: a message holds special-token text; `empty`: a response is empty (or only whitespace), scored as it is. */
        add(values: readonly number[], { special = false, empty = false } = {}): void {
            for (const r of values) {
                stats.min = Math.min(stats.min, r);
                stats.max = Math.max(stats.max, r);
                stats.sum += r;
                stats.count++;
            }
            if (special) stats.special++;
            if (empty) stats.empty++;
        },
        summary(): string {
            return (stats.count === 0 ? "" : `; reward min ${stats.min.toFixed(3)}, mean ${(stats.sum / stats.count).toFixed(3)}, max ${stats.max.toFixed(3)}`) +
                (stats.cut === 0 ? "" : `; ${plural(stats.cut, "conversation")} cut to ${maxTokens} tokens (--max-tokens)`) +
                (stats.empty === 0 ? "" : `; ${plural(stats.empty, "row")} with an empty response (scored)`) +
                (stats.special === 0 ? "" : `; warning: ${plural(stats.special, "row")} with special-token text in a message (special_tokens_in_content)`);
        },
    };
}

/**
 * A row's task read from its record, then `work` done on it: the row's fields and the tokens they cost. A row that
 * cannot be read or scored (a RowError) is an error row (or a skipped row), with its task when it was read.
 */
export async function scoreRow(row: InputRow, fields: ConversationFields, layout: (kind: TaskKind) => Layout,
    work: (task: ScoringTask, record: Fields) => Promise<{ fields: Fields; tokens: number }>): Promise<Scored> {
    let task: ScoringTask | undefined;
    try {
        if (row.record === undefined) throw new RowError(row.problem ?? "no record");
        task = toScoringTask(row.record, fields);
        const done = await work(task, row.record);
        return { out: { input: row, fields: done.fields, task }, tokens: done.tokens };
    } catch (error) {
        return unscored(row, task, error, layout);
    }
}

/**
 * A row that could not be scored (a RowError; a SkippedRow), with its task if it was read: the command's fields empty
 * and `error` (or `skipped`) saying why. Any other error is the run's, and is thrown again.
 */
export function unscored(row: InputRow, task: ScoringTask | undefined, error: unknown, layout: (kind: TaskKind) => Layout): Scored {
    // a record nested deeper than any step can walk is that row's problem, not the run's
    const rowError = error instanceof RangeError ? new RowError(`the row cannot be processed: ${error.message}`) : error;
    if (!(rowError instanceof RowError)) throw error;
    const empty: Fields = Object.fromEntries(layout(task?.kind ?? kindOf(row)).filter((f) => !f.optional && f.name !== "error").map((f) => [f.name, null]));
    if (rowError instanceof SkippedRow)
        return { out: { input: row, fields: { ...empty, skipped: rowError.message }, task }, tokens: 0, skipped: rowError.message };
    return { out: { input: row, fields: { ...empty, error: rowError.message }, task }, tokens: 0, error: rowError.message };
}
