import { RowError } from "../errors.js";

export type Message = { role: string; content: string };

/** The messages of one conversation, ending with the assistant turn that is scored. */
export type Conversation = Message[];

/** Reads the conversation out of a record of the OpenAI / Hugging Face chat form. */
export function toConversation(record: Record<string, unknown>): Conversation {
    const messages = record["messages"];
    if (messages === undefined) throw new RowError('no "messages" field');
    if (!Array.isArray(messages) || messages.length === 0)
        throw new RowError('"messages" is not a non-empty array');
    const conversation = messages.map((message, i) => toMessage(message, i));
    const last = conversation[conversation.length - 1]!;
    if (last.role !== "assistant")
        throw new RowError(`the last message is from "${last.role}", not "assistant": nothing to score`);
    return conversation;
}

function toMessage(message: unknown, index: number): Message {
    if (message === null || typeof message !== "object")
        throw new RowError(`message ${index} is not an object`);
    const { role, content } = message as Record<string, unknown>;
    if (typeof role !== "string") throw new RowError(`message ${index} has no string "role"`);
    return { role, content: contentText(content, index) };
}

/** Plain strings, or OpenAI content parts of which only text can be scored. */
function contentText(content: unknown, index: number): string {
    if (typeof content === "string") return content;
    if (Array.isArray(content) && content.every(isTextPart)) return content.map((part) => part.text).join("");
    throw new RowError(`message ${index} has no text "content"`);
}

function isTextPart(part: unknown): part is { type: "text"; text: string } {
    const p = part as { type?: unknown; text?: unknown } | null;
    return p !== null && typeof p === "object" && p.type === "text" && typeof p.text === "string";
}
