import { RowError } from "../errors.js";
import { JsonText } from "../records/values.js";

export type Message = { role: string; content: string };

/** The messages of one conversation, ending with the assistant turn that is scored. */
export type Conversation = Message[];

/** Field names to look for; `--messages-field` and friends override them. */
export type ConversationFields = {
    /** A list of messages: OpenAI `{role, content}` or ShareGPT `{from, value}`. Default: "messages", then "conversations". */
    messages?: string;
    prompt: string;
    response: string;
    system: string;
};

export const defaultFields: ConversationFields = { prompt: "prompt", response: "response", system: "system" };

const shareGptRoles: Record<string, string> = { human: "user", user: "user", gpt: "assistant", assistant: "assistant", system: "system" };

/** HelpSteer2 keeps earlier turns inside the prompt, separated by these markers. */
const helpSteerTurn = /\n<extra_id_1>(Assistant|User)\n/;

/**
 * Reads the conversation out of a record of any supported shape: a message list (OpenAI/HF or ShareGPT),
 * or a prompt and a response (HelpSteer2 multi-turn prompts are split into their turns).
 */
export function toConversation(record: Record<string, unknown>, fields: ConversationFields = defaultFields): Conversation {
    // The shape is the one whose fields the row holds: a field of another shape that is null there is no part of it
    // (a Parquet file, or JSON of mixed shapes written to Parquet, has a column of every shape, null on the other
    // shapes' rows). A null field beside no other shape is that shape's error.
    const present = (name: string) => record[name] !== undefined && record[name] !== null;
    const alpaca = typeof record["instruction"] === "string" && record["output"] !== undefined;
    const pair = present(fields.prompt) || present(fields.response);
    const lists = fields.messages !== undefined ? [fields.messages] : ["messages", "conversations"];
    const listField = lists.find(present) ?? (pair || alpaca ? undefined : lists.find((name) => record[name] !== undefined));
    let conversation: Conversation;
    if (listField !== undefined) {
        conversation = messageList(record[listField], listField);
    } else if (pair || (!alpaca && (record[fields.prompt] !== undefined || record[fields.response] !== undefined))) {
        conversation = [...promptMessages(record, fields), { role: "assistant", content: text(record[fields.response], fields.response) }];
    } else if (alpaca) {
        conversation = alpacaConversation(record, fields);
    } else {
        throw new RowError(`no conversation: expected "${fields.messages ?? "messages"}"` +
            `${fields.messages ? "" : ', "conversations"'} or "${fields.prompt}" + "${fields.response}"${fieldHint(record)}`);
    }
    const last = conversation[conversation.length - 1]!;
    if (last.role !== "assistant")
        throw new RowError(`the last message${listField !== undefined && record[listField] !== undefined ? ` of "${listField}"` : ""} is from "${last.role}", not "assistant": nothing to score`);
    return conversation;
}

/**
 * Alpaca `{instruction, input, output}`: the instruction, then the input (when there is one) after a blank line, is the
 * user turn; the output is the assistant turn.
 */
function alpacaConversation(record: Record<string, unknown>, fields: ConversationFields): Conversation {
    const input = record["input"];
    const prompt = input === undefined || input === null || input === "" ? record["instruction"] : `${record["instruction"]}\n\n${text(input, "input")}`;
    return [...promptMessages({ ...record, [fields.prompt]: prompt }, fields), { role: "assistant", content: text(record["output"], "output") }];
}

const promptLike = /prompt|question|query|instruction|input|problem|request|human|user/i;
const responseLike = /response|answer|output|completion|reply|solution|target|generation|assistant|gpt/i;

/** For a record of no known shape: the options that would read it, when its field names say prompt and response. */
function fieldHint(record: Record<string, unknown>): string {
    const names = Object.keys(record).filter((name) => typeof record[name] === "string");
    const prompt = names.find((name) => promptLike.test(name));
    const response = names.find((name) => name !== prompt && responseLike.test(name));
    const shell = (name: string) => (/^[\w.-]+$/.test(name) ? name : `'${name.replaceAll("'", "'\\''")}'`);
    if (prompt !== undefined && response !== undefined)
        return `; this row has "${prompt}" and "${response}": try --prompt-field ${shell(prompt)} --response-field ${shell(response)}`;
    const all = Object.keys(record);
    return all.length === 0 ? "; the record is empty" : `; its fields: ${all.slice(0, 8).join(", ")}${all.length > 8 ? ", ..." : ""}`;
}

/** The messages before the response: the optional system message and the prompt's turns. */
export function promptMessages(record: Record<string, unknown>, fields: ConversationFields = defaultFields): Message[] {
    const system = record[fields.system];
    const messages: Message[] = [];
    if (system !== undefined && system !== null && system !== "") messages.push({ role: "system", content: text(system, fields.system) });
    const prompt = parsedJson(record[fields.prompt], fields.prompt);
    const list = typeof prompt === "string" ? jsonMessageList(prompt) : prompt;
    if (Array.isArray(list)) {
        messages.push(...messageList(list, fields.prompt));
        return messages;
    }
    const parts = text(prompt, fields.prompt).split(helpSteerTurn);
    messages.push({ role: "user", content: parts[0]! });
    for (let i = 1; i < parts.length; i += 2)
        messages.push({ role: parts[i] === "Assistant" ? "assistant" : "user", content: parts[i + 1]! });
    return messages;
}

/**
 * A prompt string that is a JSON list of messages (a CSV cell), or undefined: a prompt can be any text, JSON about
 * something else included, so only a list that reads as messages (roles, text content) is taken for one.
 */
function jsonMessageList(prompt: string): unknown[] | undefined {
    if (!prompt.trimStart().startsWith("[")) return undefined;
    try {
        const list: unknown = JSON.parse(prompt);
        return Array.isArray(list) && messageList(list, "prompt").length > 0 ? list : undefined;
    } catch {
        return undefined;
    }
}

/** A Parquet JSON value as the value its text holds, as a JSON record would hold it. */
export function parsedJson(value: unknown, field: string): unknown {
    if (!(value instanceof JsonText)) return value;
    try {
        return JSON.parse(value.text);
    } catch {
        throw new RowError(`"${field}" is a JSON column whose text is not JSON`);
    }
}

function text(value: unknown, field: string): string {
    if (typeof value === "string") return value;
    throw notText(field, value);
}

/**
 * THE message for a field or element that holds no text where one is scored (`"rejected" is null: no text to score`,
 * `"chosen[1]" is not a string`): null is no text, an error row, where an empty string is a response, scored (and
 * counted in the summary). `wrong` says what a value of another type is not.
 */
export function notText(field: string, value: unknown, wrong = "is not a string"): RowError {
    return fieldError(field, value === undefined ? "is missing" : value === null ? "is null: no text to score" : wrong);
}

/** An error about a field or an element of one, named as every message names it: quoted, `"chosen[1]" is not an object`. */
export function fieldError(field: string, problem: string): RowError {
    return new RowError(`"${field}" ${problem}`);
}

/** A message list given as an array, or as a JSON string of one (a CSV cell). */
function messageList(value: unknown, field: string): Conversation {
    let list = parsedJson(value, field);
    if (typeof list === "string") {
        try {
            list = JSON.parse(list);
        } catch {
            throw new RowError(`"${field}" is a string that is not a JSON list of messages`);
        }
    }
    if (!Array.isArray(list) || list.length === 0) throw new RowError(`"${field}" is not a non-empty list of messages`);
    return list.map((message, i) => toMessage(message, `${field}[${i}]`));
}

function toMessage(message: unknown, where: string): Message {
    if (message === null || typeof message !== "object") throw fieldError(where, "is not an object");
    const m = message as Record<string, unknown>;
    if (typeof m["role"] === "string") return { role: m["role"], content: contentText(m["content"], where) };
    if (typeof m["from"] === "string") {
        const role = shareGptRoles[m["from"]];
        if (role === undefined) throw fieldError(where, `is from "${m["from"]}", not human, gpt or system`);
        return { role, content: contentText(m["value"], where) };
    }
    throw fieldError(where, 'has neither "role" nor "from"');
}

/** Plain strings, or OpenAI content parts of which only text can be scored. */
function contentText(content: unknown, where: string): string {
    if (typeof content === "string") return content;
    if (Array.isArray(content) && content.every(isTextPart)) return content.map((part) => part.text).join("");
    throw fieldError(where, "has no text content");
}

function isTextPart(part: unknown): part is { type: "text"; text: string } {
    const p = part as { type?: unknown; text?: unknown } | null;
    return p !== null && typeof p === "object" && p.type === "text" && typeof p.text === "string";
}
