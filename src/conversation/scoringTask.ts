import { RowError } from "../errors.js";
import type { InputRow } from "../records/row.js";
import type { ToolField } from "../records/toolFields.js";
import type { Fields } from "../records/values.js";
import { notText, parsedJson, promptMessages, toConversation, type Conversation, type ConversationFields, type Message } from "./toConversation.js";

/**
 * What one record asks to score: a single conversation, a preference pair, or N responses to one prompt.
 * All conversations of a task share the prompt, so prefix reuse evaluates it once.
 */
export type ScoringTask =
    | { kind: "single"; conversations: [Conversation] }
    | { kind: "chosenRejected"; conversations: [Conversation, Conversation] }
    | { kind: "pair"; conversations: [Conversation, Conversation] }
    /** chosen and rejected are lists of answers (RewardBench 2, RM-Bench): the chosen ones first */
    | { kind: "candidates"; conversations: Conversation[]; chosen: number }
    | { kind: "bestOfN"; conversations: Conversation[] };

export type TaskKind = ScoringTask["kind"];

/** A row on its way out: the input row, the fields the tool adds (by their own names, in order) and its task, if read. */
export type OutRow = { input: InputRow; fields: Fields; task?: ScoringTask };

/** The kind of task a record of these field names holds (a CSV header is enough to tell; the record tells lists of answers). */
export function taskKind(names: readonly string[], record?: Record<string, unknown>): TaskKind {
    // a kind's fields all null in this row are columns of other rows (a Parquet file of rows of mixed kinds): not its kind
    const has = (...kind: string[]) => kind.every((name) => names.includes(name)) &&
        (record === undefined || kind.some((name) => record[name] !== null && record[name] !== undefined));
    if (has("chosen", "rejected"))
        return record !== undefined && answerList(record["chosen"]) !== undefined && answerList(record["rejected"]) !== undefined ? "candidates" : "chosenRejected";
    if (has("response_1", "response_2")) return "pair";
    if (has("responses")) return "bestOfN";
    return "single";
}

/** The kind of task a record holds, told by its fields and their values (a kind's fields all null are not it). */
export function recordKind(record: Record<string, unknown>): TaskKind {
    return taskKind(Object.keys(record), record);
}

export function toScoringTask(record: Record<string, unknown>, fields: ConversationFields): ScoringTask {
    const kind = recordKind(record);
    if (kind === "single") return { kind, conversations: [toConversation(record, fields)] };
    const withResponse = (name: string) => responseConversation(record, fields, parsedJson(record[name], name), name);
    if (kind === "chosenRejected" || kind === "candidates") {
        const chosen = answerList(record["chosen"], "chosen"), rejected = answerList(record["rejected"], "rejected");
        if ((chosen === undefined) !== (rejected === undefined))
            throw new RowError(`"${chosen !== undefined ? "chosen" : "rejected"}" is a list of answers and "${chosen !== undefined ? "rejected" : "chosen"}" is not: give both as lists, or both as one answer`);
        if (chosen !== undefined && rejected !== undefined) {
            const answers = [...chosen, ...rejected].map((answer) => [...promptMessages(record, fields), { role: "assistant", content: answer } as Message]);
            return { kind: "candidates", conversations: answers, chosen: chosen.length };
        }
        return { kind: "chosenRejected", conversations: [withResponse("chosen"), withResponse("rejected")] };
    }
    if (kind === "pair") return { kind, conversations: [withResponse("response_1"), withResponse("response_2")] };
    return { kind: "bestOfN", conversations: responsesOf(record).map((response, i) => responseConversation(record, fields, response, `responses[${i}]`)) };
}

/** A non-empty list of answer texts (RewardBench 2's and RM-Bench's chosen and rejected), else undefined. */
function answerList(value: unknown, name?: string): string[] | undefined {
    if (!Array.isArray(value) || value.length === 0) return undefined;
    if (value.every((x) => typeof x === "string")) return value;
    // answers beside what is no message (null, a number): a list of answers, one of which is at fault
    const bad = value.findIndex((x) => typeof x !== "string");
    if (name !== undefined && value.some((x) => typeof x === "string") && !value.some((x) => x !== null && typeof x === "object"))
        throw notText(`${name}[${bad}]`, value[bad]);
    return undefined;
}

/** A best-of-N record's responses: a list, or a JSON string of one (a CSV cell). */
export function responsesOf(record: Record<string, unknown>): unknown[] {
    let responses = parsedJson(record["responses"], "responses");
    if (typeof responses === "string") {
        try {
            responses = JSON.parse(responses);
        } catch {
            throw new RowError('"responses" is a string that is not a JSON list');
        }
    }
    if (!Array.isArray(responses) || responses.length === 0) throw new RowError('"responses" is not a non-empty list');
    return responses;
}

/** The prompt followed by one response: a string, or a whole conversation given as a message list (RewardBench). */
function responseConversation(record: Record<string, unknown>, fields: ConversationFields, response: unknown, name: string): Conversation {
    if (typeof response === "string") return [...promptMessages(record, fields), { role: "assistant", content: response }];
    if (Array.isArray(response)) {
        // read under its own name, so that an error names the field at fault ("rejected", "responses[2]")
        const messages = toConversation({ [name]: response }, { ...fields, messages: name });
        // a list that holds only the answer continues the record's prompt; one with user turns stands alone
        return messages.some((m: Message) => m.role === "user") ? messages : [...promptMessages(record, fields), ...messages];
    }
    throw notText(name, response, "is neither a string nor a list of messages");
}

/** The field each conversation of a task comes from, for messages ("rejected", "responses[2]"); none for a single conversation. */
export function conversationName(kind: TaskKind, index: number): string | undefined {
    switch (kind) {
        case "single": return undefined;
        case "chosenRejected": return ["chosen", "rejected"][index];
        case "pair": return `response_${index + 1}`;
        case "bestOfN": return `responses[${index}]`;
    }
}

/** The fields a scored task adds to its row. */
export function rewardFields(task: ScoringTask, rewards: number[], field: string): Record<string, unknown> {
    switch (task.kind) {
        case "single":
            return { [field]: rewards[0] };
        case "chosenRejected":
            return { [`${field}_chosen`]: rewards[0], [`${field}_rejected`]: rewards[1], margin: rewards[0]! - rewards[1]! };
        case "pair":
            // margin > 0 when response_2 scores higher: the sign convention of HelpSteer2-Preference's preference_strength
            return { [`${field}_1`]: rewards[0], [`${field}_2`]: rewards[1], margin: rewards[1]! - rewards[0]!, preferred: rewards[1]! > rewards[0]! ? 2 : 1 };
        case "bestOfN":
            return { [`${field}s`]: rewards, best: rewards.indexOf(Math.max(...rewards)) };
        case "candidates":
            return { [`${field}_chosen`]: rewards.slice(0, task.chosen), [`${field}_rejected`]: rewards.slice(task.chosen) };
    }
}

/** The fields a scored task of this kind holds: its rewards (named by `field`), margins, the best response. */
export function rewardLayout(kind: TaskKind, field: string): ToolField[] {
    switch (kind) {
        case "single": return [{ name: field, kind: "double" }];
        case "chosenRejected": return [{ name: `${field}_chosen`, kind: "double" }, { name: `${field}_rejected`, kind: "double" }, { name: "margin", kind: "double" }];
        case "pair": return [{ name: `${field}_1`, kind: "double" }, { name: `${field}_2`, kind: "double" }, { name: "margin", kind: "double" }, { name: "preferred", kind: "integer" }];
        case "bestOfN": return [{ name: `${field}s`, kind: "doubles" }, { name: "best", kind: "integer" }];
        case "candidates": return [{ name: `${field}_chosen`, kind: "doubles" }, { name: `${field}_rejected`, kind: "doubles" }];
    }
}
