import type { OutRow } from "../conversation/scoringTask.js";
import type { PairFormat } from "../plan/flags.js";
import type { Conversation, ConversationFields } from "../conversation/toConversation.js";
import { plural } from "../plural.js";
import type { SchemaElement } from "hyparquet";
import type { ParquetColumn, Source } from "../records/row.js";
import { toolWritten } from "../records/toolFields.js";
import type { Fields, Value } from "../records/values.js";
import { groupRuns, missingGroupField, ownGroup, promptKey } from "./groups.js";
import { where } from "../records/row.js";
import { rewardNames, type RewardSource } from "./rewards.js";
import type { Emitted, Transform } from "./transform.js";

/** What became of a group: a pair written, or why none was. */
export type Outcome = "written" | "fewResponses" | "tie" | "belowMargin" | "rejectedHigher" | "notStandard";


/** A scored response: `index` is its place among a best-of-N row's responses. */
type Candidate = { conversation: Conversation; reward: number; row: OutRow; index?: number };

/**
 * Parquet columns of a pair: in the conversational format, the message lists as lists of `{role, content}` structs,
 * as Hugging Face datasets store messages (so that `datasets` and TRL read them as message lists); the rewards and
 * margin DOUBLE, whatever the first pairs' values. The other columns are typed from the pairs' values.
 */
export function pairColumns(format: PairFormat, field: string): ParquetColumn[] {
    const text = (name: string): SchemaElement => ({ type: "BYTE_ARRAY", repetition_type: "OPTIONAL", name, converted_type: "UTF8" });
    const messages = (name: string): ParquetColumn => ({
        name,
        elements: [
            { repetition_type: "OPTIONAL", name, num_children: 1, converted_type: "LIST" },
            { repetition_type: "REPEATED", name: "list", num_children: 1 },
            { repetition_type: "OPTIONAL", name: "element", num_children: 2 },
            text("role"),
            text("content"),
        ],
    });
    const double = (name: string): ParquetColumn => ({ name, elements: [{ type: "DOUBLE", repetition_type: "OPTIONAL", name }] });
    return [
        ...["prompt", "chosen", "rejected"].map((name) => (format === "trl-conversational" ? messages(name) : { name, elements: [text(name)] })),
        ...[`${field}_chosen`, `${field}_rejected`, "margin"].map(double),
    ];
}

/** Rows pairs could not judge (no --group-by field; a record whose conversations answer different prompts), and groups whose rows answer several prompts. */
export type PairCounts = { noGroup: number; mixedRecords: number; mixedGroups: number };

export type PairsPlan = { field: string; fields: ConversationFields; minMargin: number; format: PairFormat; groupBy?: string };

/**
 * DPO pairs `{prompt, chosen, rejected}` in one of TRL's formats, with their rewards, margin and the input's other
 * columns: a chosen + rejected row as it is, when chosen scores higher; else the best and the worst response of each
 * row holding several (best-of-N, response_1 + response_2) or of each run of rows sharing a prompt. A tie is never a
 * pair. `outcomes` counts what became of each group.
 */
export function pairsTransform(plan: PairsPlan, rewards: RewardSource, byPrompt: (row: OutRow) => string | undefined,
    warn: (message: string) => void = () => undefined): Transform & { outcomes: Map<Outcome, number>; counts: PairCounts; failed: () => number } {
    const outcomes = new Map<Outcome, number>();
    // rows with no --group-by field, records whose two conversations answer different prompts (both not judged), groups
    // whose rows answer different prompts (paired within each prompt)
    const counts = { noGroup: 0, mixedRecords: 0, mixedGroups: 0 };
    // a row that holds its own responses is a group of its own
    const keyOf = (row: OutRow) => (row.task !== undefined && row.task.kind !== "single" ? ownGroup(row) : byPrompt(row));
    const runs = groupRuns(keyOf, (rows): Emitted[] => {
        const first = rows[0]!;
        if (first.task !== undefined && first.task.kind !== "single") {
            // one record's two conversations: a pair only when they answer one prompt
            const prompts = new Set(first.task.conversations.map(promptKey));
            if (prompts.size > 1) {
                counts.mixedRecords++;
                warn(`${where(first.input)}: not a pair: its ${first.task.kind === "pair" ? "response_1 and response_2" : "chosen and rejected"} conversations have different prompts (prompts differ)`);
                return [];
            }
            return emit([first]);
        }
        // a row without the --group-by field is in no group: not paired with its neighbours
        const grouped = rows.filter((row) => !missingGroupField(plan.groupBy, row));
        if (grouped.length < rows.length && (counts.noGroup += rows.length - grouped.length) === rows.length - grouped.length)
            warn(`${where(rows.find((row) => missingGroupField(plan.groupBy, row))!.input)}: no field "${plan.groupBy}" to group by: not paired, nor any other row without it`);
        // rewards compare within one prompt only: the rows of a group are paired with the rows of the same prompt
        const byItsPrompt = new Map<string, OutRow[]>();
        for (const row of grouped) {
            const conversation = row.task?.conversations[0];
            if (conversation === undefined) continue; // no conversation: nothing to pair
            // without --group-by, the group is the rows of one prompt already
            const key = plan.groupBy === undefined ? "" : promptKey(conversation);
            const same = byItsPrompt.get(key);
            if (same === undefined) byItsPrompt.set(key, [row]);
            else same.push(row);
        }
        if (byItsPrompt.size > 1) {
            counts.mixedGroups++;
            warn(`${where(grouped[0]!.input)}: the rows of its group (--group-by ${plan.groupBy}) answer ${byItsPrompt.size} different prompts: ` +
                "only rows of one prompt are paired (prompts differ)");
        }
        return [...byItsPrompt.values()].flatMap(emit);
    });
    const emit = (group: OutRow[]): Emitted[] => {
        const { outcome, pair } = pairOf(group, plan, rewards);
        outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
        const { source, line } = group[0]!.input;
        // a record of the tool's own: no input text, no input columns (a Parquet output types its columns from the pairs)
        const own: Source = { name: source.name, format: "jsonl" };
        return pair === undefined ? [] : [{ to: "main", row: { input: { source: own, line, text: "", record: pair }, fields: {} } }];
    };
    return { ...runs, outcomes, counts, failed: () => counts.noGroup + counts.mixedRecords };
}

function pairOf(group: OutRow[], plan: PairsPlan, rewards: RewardSource): { outcome: Outcome; pair?: Fields } {
    const first = group[0]!;
    const candidates = candidatesOf(group, rewards);
    if (candidates.length < 2) return { outcome: "fewResponses" };
    // chosen + rejected keep their labels; otherwise the best response is chosen and the worst rejected
    const [chosen, rejected] = first.task?.kind === "chosenRejected" ? candidates as [Candidate, Candidate]
        : [candidates.reduce((a, b) => (b.reward > a.reward ? b : a)), candidates.reduce((a, b) => (b.reward < a.reward ? b : a))];
    const margin = chosen.reward - rejected.reward;
    const outcome: Outcome = margin === 0 ? "tie" : margin < 0 ? "rejectedHigher" : margin < plan.minMargin ? "belowMargin" : "written";
    if (outcome !== "written") return { outcome };
    const texts = trlTexts(chosen, rejected, plan);
    if (texts === undefined) return { outcome: "notStandard" };
    return {
        outcome,
        pair: { ...texts, [`${plan.field}_chosen`]: chosen.reward, [`${plan.field}_rejected`]: rejected.reward, margin, ...lineage(chosen, rejected, plan, rewards) },
    };
}

/** prompt, chosen and rejected in the plan's format; undefined when the standard format cannot hold the prompt. */
function trlTexts(chosen: Candidate, rejected: Candidate, { format }: PairsPlan): Fields | undefined {
    const prompt = chosen.conversation.slice(0, -1);
    const answer = (c: Candidate) => c.conversation.at(-1)!.content;
    if (format === "trl-conversational") {
        const message = (role: string, content: string): Fields => ({ role, content });
        return {
            prompt: prompt.map((m) => message(m.role, m.content)),
            chosen: [message("assistant", answer(chosen))],
            rejected: [message("assistant", answer(rejected))],
        };
    }
    // a plain-text prompt: the one user turn of the conversation as read (never the record's raw prompt text, which may
    // hold earlier turns in a dataset's markers); a system message or several turns need the conversational format
    const text = prompt.length === 1 && prompt[0]!.role === "user" ? prompt[0]!.content : undefined;
    return text === undefined ? undefined : { prompt: text, chosen: answer(chosen), rejected: answer(rejected) };
}

/**
 * The input's other columns (ids, sample numbers, models, ...), which the pair's fields do not already hold: once for a
 * pair from one row (and the --group-by column, the same in both rows), else each row's as chosen_NAME and rejected_NAME.
 */
function lineage(chosenResponse: Candidate, rejectedResponse: Candidate, { field, fields, groupBy }: PairsPlan, rewards: RewardSource): Fields {
    const [chosen, rejected] = [chosenResponse.row, rejectedResponse.row];
    const conversation = new Set([fields.messages ?? "messages", "conversations", fields.prompt, fields.response, fields.system,
        "chosen", "rejected", "responses", "response_1", "response_2", "instruction", "input", "output"]);
    // the tool's fields (the rewards read, and what an earlier run wrote, by the own-name rule) are not lineage; the user's
    // fields are, whatever their names (rank, z, a reward label of their own)
    const others = (row: OutRow) => {
        const record = row.input.record ?? {};
        const kind = row.task?.kind ?? "single";
        const names = rewardNames(kind, field);
        const tool = toolWritten(record, names, kind === "bestOfN" || kind === "candidates" ? "doubles" : "double", row.input.source.format === "csv" || row.input.source.format === "tsv");
        for (const name of rewards.columns(row)) tool.add(name);
        return Object.entries(record).filter(([name]) => !conversation.has(name) && !tool.has(name));
    };
    const out: Fields = {};
    // a lineage column never takes the name of a pair's field or of one TRL reads (messages, completion, label):
    // it goes under source_NAME instead (prefixed again while that is taken)
    const reserved = new Set(["prompt", "chosen", "rejected", "messages", "completion", "label", "images", `${field}_chosen`, `${field}_rejected`, "margin"]);
    const put = (name: string, value: Value) => {
        let own = name;
        while (reserved.has(own) || Object.hasOwn(out, own)) own = `source_${own}`;
        out[own] = value;
    };
    if (chosen === rejected) {
        // a best-of-N row's lists parallel to its responses (models, ...): each response's own item
        const [c, r] = [chosenResponse.index, rejectedResponse.index];
        const count = chosen.task?.conversations.length;
        for (const [name, value] of others(chosen)) {
            const list = typeof value === "string" && chosen.input.source.format !== "jsonl" && chosen.input.source.format !== "json" ? jsonList(value) : value;
            if (c !== undefined && r !== undefined && Array.isArray(list) && list.length === count) {
                put(`chosen_${name}`, list[c]!);
                put(`rejected_${name}`, list[r]!);
            } else put(name, value);
        }
        return out;
    }
    const of = (row: OutRow, name: string): Value => row.input.record?.[name] ?? null;
    const names = [...new Set([...others(chosen), ...others(rejected)].map(([name]) => name))];
    for (const name of names) {
        if (name === groupBy) put(name, of(chosen, name));
        else {
            put(`chosen_${name}`, of(chosen, name));
            put(`rejected_${name}`, of(rejected, name));
        }
    }
    return out;
}

/** A CSV/TSV cell's JSON list, or undefined. */
function jsonList(text: string): Value[] | undefined {
    try {
        const parsed: unknown = JSON.parse(text);
        return Array.isArray(parsed) ? parsed as Value[] : undefined;
    } catch {
        return undefined;
    }
}

/** The scored responses of a group, each with its conversation, reward and row. */
function candidatesOf(group: OutRow[], rewards: RewardSource): Candidate[] {
    const first = group[0]!;
    if (first.task !== undefined && first.task.kind !== "single") {
        const values = rewards.read(first);
        return typeof values === "string" ? [] : values.map((reward, i) => ({ conversation: first.task!.conversations[i]!, reward, row: first, index: first.task!.kind === "bestOfN" ? i : undefined }));
    }
    return group.flatMap((row) => {
        const values = row.task === undefined ? "error" : rewards.read(row);
        return typeof values === "string" ? [] : [{ conversation: row.task!.conversations[0]!, reward: values[0]!, row }];
    });
}

/** "wrote 2 pairs from 5 prompts; not written: 1 tie, ...": a warning when nothing was written. */
export function pairsReport(outcomes: Map<Outcome, number>, minMargin: number, counts: PairCounts = { noGroup: 0, mixedRecords: 0, mixedGroups: 0 }): { warn: boolean; message: string } {
    const count = (outcome: Outcome) => outcomes.get(outcome) ?? 0;
    const groups = [...outcomes.values()].reduce((a, b) => a + b, 0);
    const reasons = [
        [count("fewResponses"), "with fewer than 2 scored responses"],
        [count("tie"), count("tie") === 1 ? "tie" : "ties"],
        [count("belowMargin"), `below --min-margin ${minMargin}`],
        [count("rejectedHigher"), "where the rejected response scored higher"],
        [count("notStandard"), "whose prompt is not one user turn (a system message or earlier turns): --pair-format trl-conversational keeps them"],
    ] as const;
    const unjudged = [
        [counts.noGroup, `${counts.noGroup === 1 ? "row" : "rows"} without the --group-by field`],
        [counts.mixedRecords, `${counts.mixedRecords === 1 ? "record" : "records"} whose two conversations have different prompts (prompts differ)`],
        [counts.mixedGroups, `${counts.mixedGroups === 1 ? "group" : "groups"} whose rows answer different prompts (prompts differ: paired within each prompt)`],
    ] as const;
    const dropped = [...reasons, ...unjudged].filter(([n]) => n > 0).map(([n, why]) => `${n} ${why}`).join(", ");
    const written = count("written");
    if (written > 0 || (groups === 0 && counts.noGroup + counts.mixedRecords === 0))
        return { warn: false, message: `wrote ${plural(written, "pair")} from ${plural(groups, "prompt")}${dropped === "" ? "" : `; not written: ${dropped}`}` };
    const hint = count("fewResponses") > 0
        ? " (a pair compares responses to one prompt: a responses list, chosen + rejected, response_1 + response_2, or adjacent rows sharing a prompt)" : "";
    return { warn: true, message: `wrote no pairs from ${plural(groups, "prompt")}: ${dropped}${hint}` };
}
