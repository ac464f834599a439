import type { Conversation, Message } from "../conversation/toConversation.js";

/** A query that cannot be read back into a conversation: the request is refused (400) with this reason. */
export class UnreadableQuery extends Error {
    override name = "UnreadableQuery";
}

/** What a policy's template may put after the response: the end of its turn or of its text. */
const endMarks = ["<|eot_id|>", "<|end_of_text|>", "<|im_end|>", "<|endoftext|>", "</s>", "<end_of_turn>", "<eos>"];

/** Text of a chat template this module does not read back: a turn or a prompt it could not tell apart. */
const unknownMarkup = /<\|[A-Za-z_]+\|>|<\/?s>|\[\/?INST\]|<\/?start_of_turn>|<\/?end_of_turn>|<extra_id_\d+>/;

/** The Llama 3.1 template's own first lines of the system turn (its date lines), not a system message of the user's. */
const llamaDates = /^Cutting Knowledge Date: [^\n]*\nToday Date: [^\n]*\n\n/;

const roles = new Set(["system", "user", "assistant"]);

/**
 * The conversation an OpenRLHF query holds. OpenRLHF sends the prompt and the policy's response as one text, rendered
 * with the policy's own chat template (`query`), and the rendered prompt alone (`prompts`). Read back:
 * - Llama 3 text (`<|start_header_id|>role<|end_header_id|>\n\n…<|eot_id|>`): its turns, the template's date lines
 *   dropped from the system turn (and the system turn with them when nothing else is in it);
 * - ChatML text (`<|im_start|>role\n…<|im_end|>`, Qwen and others): its turns;
 * - otherwise, a query that begins with its plain-text prompt: the prompt as the user's turn, the rest as the
 *   response (an end-of-text mark at its end dropped).
 * Anything else is refused with the reason: a reward of text read wrongly would look like any other reward.
 */
export function queryConversation(query: string, prompt: string | undefined): Conversation {
    let messages: Message[];
    if (query.includes("<|start_header_id|>")) messages = turns(query, /<\|start_header_id\|>([^<]*)<\|end_header_id\|>\n\n/g, "<|eot_id|>", "<|begin_of_text|>", "Llama 3");
    else if (query.includes("<|im_start|>")) messages = turns(query, /<\|im_start\|>([^\n<]*)\n/g, "<|im_end|>", "", "ChatML");
    else {
        if (prompt === undefined) throw new UnreadableQuery("the query is not Llama 3 or ChatML chat text, and no prompt was sent to tell the response from it (\"prompts\")");
        if (!query.startsWith(prompt)) throw new UnreadableQuery("the query does not begin with its prompt (\"prompts\"), and is not Llama 3 or ChatML chat text");
        const markup = unknownMarkup.exec(prompt);
        if (markup !== null) throw new UnreadableQuery(`the prompt holds chat-template text nemoreward cannot read back ("${markup[0]}"): send Llama 3 or ChatML text, or plain text`);
        messages = [{ role: "user", content: prompt }, { role: "assistant", content: withoutEnd(query.slice(prompt.length)) }];
    }
    const last = messages.at(-1);
    if (last?.role !== "assistant") throw new UnreadableQuery(`the query ends with ${last === undefined ? "no turn" : `a ${last.role} turn`}, not the assistant's response`);
    return messages;
}

/** The turns of text in a template's markup: each header's role and the text up to its end mark (the last may lack it). */
function turns(text: string, header: RegExp, end: string, begin: string, name: string): Message[] {
    const heads = [...text.matchAll(header)];
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
        if (between.trim() !== "" && !(last && endMarks.includes(between.trim()))) throw new UnreadableQuery(`text after the end of ${name} turn ${i + 1}: ${JSON.stringify(between.slice(0, 40))}`);
        let content = at === -1 ? withoutEnd(body) : body.slice(0, at);
        if (role === "system") content = content.replace(llamaDates, "");
        if (role === "system" && content.trim() === "") return;
        messages.push({ role, content });
    });
    return messages;
}

/** The response without the end-of-text marks a policy's template put after it. */
function withoutEnd(response: string): string {
    for (let again = true; again;) {
        again = false;
        for (const mark of endMarks) if (response.endsWith(mark)) {
            response = response.slice(0, -mark.length);
            again = true;
        }
    }
    return response;
}
