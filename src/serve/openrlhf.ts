import type { Conversation, Message } from "../conversation/toConversation.js";

/** A query that cannot be read back into a conversation: the request is refused (400) with this reason. */
export class UnreadableQuery extends Error {
    override name = "UnreadableQuery";
}

/**
 * Text that looks like a template's special token: `<|name|>` (Llama 3, ChatML, Phi and many others), DeepSeek's
 * full-width `<｜name｜>`, `<reserved_N>` (Baichuan), `<seed:name>` (Seed), `[INST]`-style brackets (Mistral),
 * `<s>`, Gemma's turns, `<extra_id_N>` (NeMo), `<bos>`/`<eos>`/`<pad>`. Left in a turn once the query is read, it
 * is markup this module could not read back: the query is refused rather than scored with it as text.
 */
const specialMarkup = /<\|[^<>|\s]{1,64}\|>|<｜[^<>｜]{1,64}｜>|<reserved_\d+>|<seed:[^<>\s]{1,64}>|\[\/?(?:INST|SYSTEM_PROMPT|AVAILABLE_TOOLS|TOOL_CALLS|TOOL_RESULTS)\]|<\/?s>|<\/?(?:start|end)_of_turn>|<extra_id_\d+>|<(?:bos|eos|pad|unk)>/;

/** The Llama 3.1 template's own first lines of the system turn (its date lines), not a system message of the user's. */
const llamaDates = /^Cutting Knowledge Date: [^\n]*\nToday Date: [^\n]*\n\n/;

const roles = new Set(["system", "user", "assistant"]);

/**
 * The conversation an OpenRLHF query holds. OpenRLHF sends the prompt and the policy's response as one text, rendered
 * with the policy's own chat template (`query`), and the rendered prompt alone (`prompts`). Read back, strictly:
 * - a prompt, when sent, is not empty and the query begins with it (whatever the template);
 * - Llama 3 text (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`): its turns, the template's date lines
 *   dropped from the system turn (and the system turn with them when nothing else is in it);
 * - ChatML text (`<|im_start|>role\n…<|im_end|>`, Qwen and others): its turns;
 * - otherwise, a query that begins with its plain-text prompt: the prompt as the user's turn, the rest as the response;
 * - in every case a run of end-of-text marks (and blanks between them) after the response is dropped;
 * - then any special-token-looking markup left in a turn, a last turn that is not the assistant's, or an empty
 *   response, refuses the query.
 * Each refusal says why: a reward of text read wrongly would look like any other reward.
 */
export function queryConversation(query: string, prompt: string | undefined): Conversation {
    if (prompt !== undefined && prompt.trim() === "") throw new UnreadableQuery("its prompt (\"prompts\") is empty");
    if (prompt !== undefined && !query.startsWith(prompt)) throw new UnreadableQuery("the query does not begin with its prompt (\"prompts\")");
    let messages: Message[];
    if (/<\|(?:start_header_id|end_header_id|eot_id)\|>/.test(query)) messages = turns(query, /<\|start_header_id\|>([^<\n]*)<\|end_header_id\|>\n\n/g, "<|eot_id|>", "<|begin_of_text|>", "Llama 3", "<|start_header_id|>ROLE<|end_header_id|>\\n\\n");
    else if (/<\|im_(?:start|end)\|>/.test(query)) messages = turns(query, /<\|im_start\|>([^\n<]*)\n/g, "<|im_end|>", "", "ChatML", "<|im_start|>ROLE\\n");
    else {
        if (prompt === undefined) throw new UnreadableQuery("the query is not Llama 3 or ChatML chat text, and no prompt was sent to tell the response from it (\"prompts\")");
        messages = [{ role: "user", content: prompt }, { role: "assistant", content: withoutEnd(query.slice(prompt.length)) }];
    }
    messages.forEach(({ role, content }, i) => {
        const markup = specialMarkup.exec(content as string);
        if (markup !== null) throw new UnreadableQuery(`the ${role} turn ${i + 1} holds chat-template markup nemoreward cannot read back ("${markup[0]}"): send Llama 3 or ChatML text, or plain text with its prompt`);
    });
    const last = messages.at(-1);
    if (last?.role !== "assistant") throw new UnreadableQuery(`the query ends with ${last === undefined ? "no turn" : `a ${last.role} turn`}, not the assistant's response`);
    if ((last.content as string).trim() === "") throw new UnreadableQuery("the response (the last assistant turn) is empty");
    return messages;
}

/** The turns of text in a template's markup: each header's role and the text up to its end mark (the last may lack it). */
function turns(text: string, header: RegExp, end: string, begin: string, name: string, shape: string): Message[] {
    const heads = [...text.matchAll(header)];
    if (heads.length === 0) throw new UnreadableQuery(`${name} markers without a ${name} turn header (${shape})`);
    let before = text.slice(0, heads[0]!.index);
    while (begin !== "" && before.startsWith(begin)) before = before.slice(begin.length);
    if (before.trim() !== "") throw new UnreadableQuery(`text before the first ${name} turn: ${JSON.stringify(before.slice(0, 40))}`);
    const messages: Message[] = [];
    heads.forEach((head, i) => {
        const role = head[1]!;
        if (!roles.has(role)) throw new UnreadableQuery(`a ${name} turn of role "${role}": only system, user and assistant turns are scored`);
        const body = text.slice(head.index + head[0].length, heads[i + 1]?.index ?? text.length);
        const at = body.indexOf(end);
        const last = i === heads.length - 1;
        if (at === -1 && !last) throw new UnreadableQuery(`the ${role} turn ${i + 1} does not end with ${end}`);
        const between = at === -1 ? "" : body.slice(at + end.length);
        if ((last ? withoutEnd(between) : between).trim() !== "") throw new UnreadableQuery(`text after the end of ${name} turn ${i + 1}: ${JSON.stringify(between.slice(0, 40))}`);
        let content = at === -1 ? withoutEnd(body) : body.slice(0, at);
        if (role === "system") content = content.replace(llamaDates, "");
        if (role === "system" && content.trim() === "") return;
        messages.push({ role, content });
    });
    return messages;
}

/** What a policy's template (or a batch's right padding) may put after the response: the end of its turn or of its text. */
const endMarks = ["<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>", "<end_of_turn>", "<eos>", "<｜end▁of▁sentence｜>"];

/** The text without the run of end-of-text marks at its end (blanks between and after them too); the text before kept as it is. */
function withoutEnd(text: string): string {
    let rest = text;
    for (;;) {
        const trimmed = rest.trimEnd();
        const mark = endMarks.find((m) => trimmed.endsWith(m));
        if (mark === undefined) return rest;
        rest = trimmed.slice(0, -mark.length);
    }
}
