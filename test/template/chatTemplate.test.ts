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

    it("trims message text the way Python's jinja2 does, not the way JavaScript does", () => {
        // Python's str.strip() keeps U+FEFF (a byte-order mark) and removes U+0085 and U+001C–U+001F;
        // JavaScript's trim() does the opposite. Hugging Face renders with Python.
        const rendered = new ChatTemplate(llama31Template, specialTokens).render([
            { role: "user", content: "\ufeffHi\u0085" }, { role: "assistant", content: "\u001fok\u00a0\u001c" },
        ]);
        expect(rendered).toContain("<|start_header_id|>user<|end_header_id|>\n\n\ufeffHi<|eot_id|>");
        expect(rendered).toContain("<|start_header_id|>assistant<|end_header_id|>\n\nok<|eot_id|>");
    });

    it("strip(), lstrip() and rstrip() on strings follow Python too; other methods are untouched", () => {
        const methods = new ChatTemplate(
            "{% set m = messages[0].content %}{{ m.strip() }}|{{ m.lstrip() }}|{{ m.rstrip() }}|{{ m.upper() }}", specialTokens);
        // Python: " \x85a b\ufeff ".strip() == "a b\ufeff" (U+0085 is whitespace there, U+FEFF is not)
        expect(methods.render([{ role: "user", content: " \u0085a b\ufeff " }]).split("|"))
            .toEqual(["a b\ufeff", "a b\ufeff ", " \u0085a b\ufeff", " \u0085A B\ufeff "]);
    });

    it("turns a template exception into a row error", () => {
        const raising = new ChatTemplate("{{ raise_exception('no system role') }}", specialTokens);
        expect(() => raising.render([{ role: "assistant", content: "x" }])).toThrow(/no system role/);
    });
});
