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
