import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { readGgufFileInfo } from "node-llama-cpp";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { tinyModel } from "../helpers.js";

// Rendered by Hugging Face (jinja2, trim_blocks, lstrip_blocks) from the Llama 3.1 template.
const examples: { name: string; messages: { role: string; content: string }[]; rendered: string }[] =
    JSON.parse(readFileSync(new URL("../fixtures/rendered-examples.json", import.meta.url), "utf8"));

const specialTokens = { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" };

describe("chat template rendering", () => {
    it.each(examples)("renders $name exactly as Hugging Face does with the bundled template", ({ messages, rendered }) => {
        expect(new ChatTemplate(llama31Template, specialTokens).render(messages)).toBe(rendered);
    });

    it("renders the same with the template embedded in the fixture GGUF", async () => {
        const info = await readGgufFileInfo(tinyModel);
        const embedded = new ChatTemplate(info.metadata.tokenizer.chat_template!, specialTokens);
        for (const { messages, rendered } of examples) expect(embedded.render(messages)).toBe(rendered);
    });

    it("turns a template exception into a row error", () => {
        const raising = new ChatTemplate("{{ raise_exception('no system role') }}", specialTokens);
        expect(() => raising.render([{ role: "assistant", content: "x" }])).toThrow(/no system role/);
    });
});
