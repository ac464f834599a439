import type { Conversation } from "../conversation/toConversation.js";
import type { Span } from "../engine/tokenizer.js";
import { pythonStrip, type ChatTemplate } from "./chatTemplate.js";

/** A stand-in for message i's content: text that no template trims and no content holds by chance. */
const standIn = (i: number) => `\u{F0000}${i}\u{F0001}`;
const standIns = /\u{F0000}(\d+)\u{F0001}/gu;

/**
 * Where each message's content lies in `rendered` (the conversation rendered with `template`). The conversation is
 * rendered again with stand-ins for the contents; the text around them is the template's, and each stand-in must be
 * its content, trimmed (as the Llama 3.1 template does) or as given, for the two renderings to agree. Searching for
 * the contents in the text instead would find a content "user" in a header. Undefined when they do not agree (a
 * template that changes content in other ways).
 */
export function contentSpans(template: ChatTemplate, conversation: Conversation, rendered: string): Span[] | undefined {
    const skeleton = template.render(conversation.map((message, i) => ({ ...message, content: standIn(i) })));
    const matches = [...skeleton.matchAll(standIns)];
    const between = [0, ...matches.map((m) => m.index + m[0].length)].map((start, i) => skeleton.slice(start, matches[i]?.index));
    const spans: Span[] = [];
    let at = 0;
    for (const [i, match] of matches.entries()) {
        if (!rendered.startsWith(between[i]!, at)) return undefined;
        at += between[i]!.length;
        const content = conversation[Number(match[1])]!.content;
        const shown = [pythonStrip(content, "strip"), content].find((text) => rendered.startsWith(text, at) && rendered.startsWith(between[i + 1]!, at + text.length));
        if (shown === undefined) return undefined;
        spans.push([at, at + shown.length]);
        at += shown.length;
    }
    return rendered.length === at + between.at(-1)!.length && rendered.endsWith(between.at(-1)!) ? spans : undefined;
}
