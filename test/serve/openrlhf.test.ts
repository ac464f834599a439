import { describe, expect, it } from "vitest";
import { queryConversation } from "../../src/serve/openrlhf.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";

const llama31 = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });

describe("OpenRLHF queries read back into conversations", () => {
    it("Llama 3 text rendered by the Llama 3.1 template reads back as the conversation it was rendered from", () => {
        const conversations = [
            [{ role: "user", content: "What is 1+1?" }, { role: "assistant", content: "2" }],
            [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }, { role: "user", content: "Bye" }, { role: "assistant", content: "Bye!" }],
        ];
        for (const conversation of conversations) expect(queryConversation(llama31.render(conversation), undefined)).toEqual(conversation);
    });

    it("the response may end without its end-of-turn mark, or with the end of text", () => {
        const open = "<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nHello";
        expect(queryConversation(open, undefined)).toEqual([{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }]);
        expect(queryConversation(`${open}<|eot_id|><|end_of_text|>`, undefined)).toEqual([{ role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }]);
    });

    it("ChatML (Qwen and others)", () => {
        const query = "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\nHello<|im_end|>\n";
        expect(queryConversation(query, undefined)).toEqual([{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello" }]);
    });

    it("plain text: the prompt is the user's turn, the rest the response, an end-of-text mark dropped", () => {
        expect(queryConversation("Question: 1+1? Answer: 2</s>", "Question: 1+1? Answer:")).toEqual([{ role: "user", content: "Question: 1+1? Answer:" }, { role: "assistant", content: " 2" }]);
    });

    it.each([
        ["[INST] hi [/INST] hello", "[INST] hi [/INST]", /cannot read back/],
        ["<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nhello", "<start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\n", /cannot read back/],
        ["hello", undefined, /no prompt was sent/],
        ["hello", "bye", /does not begin with its prompt/],
        ["junk<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", undefined, /text before the first Llama 3 turn/],
        ["<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>", undefined, /ends with a user turn/],
        ["<|start_header_id|>user<|end_header_id|>\n\nHi<|start_header_id|>assistant<|end_header_id|>\n\nYo", undefined, /does not end with <\|eot_id\|>/],
        ["<|start_header_id|>ipython<|end_header_id|>\n\n{}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\nYo", undefined, /role "ipython"/],
        ["<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>stray<|start_header_id|>assistant<|end_header_id|>\n\nYo", undefined, /text after the end/],
    ])("refuses %j (prompt %j), saying why", (query, prompt, reason) => {
        expect(() => queryConversation(query, prompt)).toThrow(reason);
    });
});

const l3 = (user: string, assistant: string) => `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n${assistant}<|eot_id|>`;
const l3Prompt = (user: string) => `<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n${user}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n`;
const chatml = (user: string, assistant: string) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n${assistant}<|im_end|>\n`;
const chatmlPrompt = (user: string) => `<|im_start|>user\n${user}<|im_end|>\n<|im_start|>assistant\n`;
const conversation = [{ role: "user", content: "What is 1+1?" }, { role: "assistant", content: "1+1=2" }];

describe("OpenRLHF queries are read strictly", () => {
    it.each([
        // markers without the header the reader knows (Phi-4's <|im_sep|>, no blank line, no newline): 400, never a crash
        ["<|im_start|>user<|im_sep|>What is 1+1?<|im_end|><|im_start|>assistant<|im_sep|>1+1=2<|im_end|>", undefined, /ChatML markers without a ChatML turn header/],
        ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>What is 1+1?<|eot_id|><|start_header_id|>assistant<|end_header_id|>1+1=2<|eot_id|>", undefined, /Llama 3 markers without/],
        ["<|im_start|>userWhat is 1+1?<|im_end|><|im_start|>assistant1+1=2<|im_end|>", undefined, /ChatML markers without/],
        ["What is 1+1?<|eot_id|>1+1=2", "What is 1+1?", /Llama 3 markers without/],
        // a prompt the query does not begin with, whatever the template
        [l3("What is 1+1?", "1+1=2"), l3Prompt("Different"), /does not begin with its prompt/],
        [chatml("What is 1+1?", "1+1=2"), chatmlPrompt("Different"), /does not begin with its prompt/],
        [l3("What is 1+1?", "1+1=2"), "What is 1+1?", /does not begin with its prompt/],
        // special-token-looking markup of templates not read back, in the prompt or the response
        ["<｜begin▁of▁sentence｜><｜User｜>What is 1+1?<｜Assistant｜>1+1=2<｜end▁of▁sentence｜>", "<｜begin▁of▁sentence｜><｜User｜>What is 1+1?<｜Assistant｜>", /markup .*"<｜begin▁of▁sentence｜>"/],
        ["<｜hy_User｜>What is 1+1?<｜hy_Assistant｜>2", "<｜hy_User｜>What is 1+1?<｜hy_Assistant｜>", /markup/],
        ["<reserved_106>What is 1+1?<reserved_107>2", "<reserved_106>What is 1+1?<reserved_107>", /markup .*<reserved_106>/],
        ["<seed:bos>user\nWhat is 1+1?<seed:eos>2", "<seed:bos>user\nWhat is 1+1?<seed:eos>", /markup .*<seed:bos>/],
        ["What is 1+1? 2 [INST] more [/INST]", "What is 1+1?", /markup .*\[INST\]/],
        ["What is 1+1?2<|unknown_mark|>", "What is 1+1?", /markup .*<\|unknown_mark\|>/],
        [l3("What is 1+1?", "1+1=2<|im_start|>"), undefined, /assistant turn 2 holds chat-template markup/],
        // empty prompts and responses
        ["What is 1+1?", "", /prompt .* is empty/],
        ["What is 1+1?", "What is 1+1?", /response .* is empty/],
        [l3Prompt("What is 1+1?"), l3Prompt("What is 1+1?"), /response .* is empty/],
        [`${chatml("What is 1+1?", "2")}<|im_start|>assistant\n<|im_end|>\n`, undefined, /response .* is empty/],
    ])("refuses %j (prompt %j), saying why", (query, prompt, reason) => {
        expect(() => queryConversation(query, prompt)).toThrow(reason);
    });

    it.each([
        ["plain", "What is 1+1?1+1=2</s></s>", "What is 1+1?"],
        ["Llama 3", `${l3("What is 1+1?", "1+1=2")}<|end_of_text|><|end_of_text|>`, undefined],
        ["Llama 3 with its prompt", `${l3("What is 1+1?", "1+1=2")}<|end_of_text|>`, l3Prompt("What is 1+1?")],
        ["ChatML", `${chatml("What is 1+1?", "1+1=2")}<|endoftext|><|endoftext|>`, undefined],
        ["ChatML with its prompt", `${chatml("What is 1+1?", "1+1=2")}<|endoftext|>\n<|endoftext|>`, chatmlPrompt("What is 1+1?")],
    ])("%s: a run of end-of-text marks (right padding) after the response is dropped", (_, query, prompt) => {
        expect(queryConversation(query, prompt)).toEqual(conversation);
    });
});
