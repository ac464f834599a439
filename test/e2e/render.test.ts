import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demoConversations, jsonl, offered, parseJsonl, runInProcess, tinyModel } from "../helpers.js";

const demoLines = readFileSync(demoConversations, "utf8").trim().split("\n");

describe("nemoreward render", () => {
    it("prints each record with the exact rendered text and its token count", async () => {
        const { code, stdout } = await runInProcess(["render", demoConversations, "-m", tinyModel]);
        expect(code).toBe(0);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(demoLines.length);
        expect(rows[0]!.rendered).toBe(
            "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\n" +
            "Today Date: 26 Jul 2024\n\n<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nWhat is 1+1?<|eot_id|>" +
            "<|start_header_id|>assistant<|end_header_id|>\n\n1+1=2<|eot_id|>",
        );
        // byte-level vocabulary: one token per UTF-8 byte outside the special tokens
        const specials = rows[0]!.rendered.match(/<\|[a-z_]+\|>/g)!;
        const bytes = Buffer.byteLength(rows[0]!.rendered.replace(/<\|[a-z_]+\|>/g, ""));
        expect(rows[0]!.n_tokens).toBe(specials.length + bytes);
    });

    it("uses --chat-template instead of the model's template", async () => {
        const { stdout } = await runInProcess(
            ["render", "-", "-m", tinyModel, "--chat-template", "test/fixtures/plain-template.jinja"], demoLines[0]);
        expect(parseJsonl(stdout)[0]!.rendered).toBe("<|begin_of_text|>user: What is 1+1?\nassistant: 1+1=2\n");
    });
});

describe("each command's help offers what the command does", () => {
    it("render: no engine options (it loads only the vocabulary); they are refused, not ignored", async () => {
        const options = await offered("render");
        for (const name of ["--gpu", "--gpu-layers", "--threads", "--context-size", "--precise"]) expect(options).not.toContain(name);
        expect(options).toEqual(expect.arrayContaining(["--model", "--output", "--format", "--chat-template", "--input-format"]));
        const { code, stdout, stderr } = await runInProcess(["render", "-", "-m", tinyModel, "--gpu-layers", "max"], jsonl(oneRow()));
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderr).toBe("nemoreward: error: unknown option '--gpu-layers'\n");
    });
});

function oneRow() {
    return [{ prompt: "Say hi.", response: "Hi!" }];
}
