import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { demoConversations, parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const demoLines = readFileSync(demoConversations, "utf8").trim().split("\n");

describe("nemoreward score (built CLI)", () => {
    it("scores a file: one JSON line per conversation, input record unchanged, in order", async () => {
        const { code, stdout, stderr } = await runBuiltCli(["score", demoConversations, "--model", tinyModel]);
        expect(code).toBe(0);
        const lines = stdout.trim().split("\n");
        expect(lines).toHaveLength(demoLines.length);
        lines.forEach((line, i) => {
            const row = JSON.parse(line);
            expect(typeof row.reward).toBe("number");
            const { reward, ...rest } = row;
            expect(rest).toEqual(JSON.parse(demoLines[i]!));
            // the original text of the record is kept byte for byte
            expect(line.startsWith(demoLines[i]!.slice(0, -1))).toBe(true);
        });
        expect(stderr).toMatch(/cpu backend, 0 of 3 layers on the GPU/);
        expect(stderr).toMatch(/scored 5 of 5 rows/);
    });

    it("reads standard input when INPUT is omitted or '-', with the same rewards", async () => {
        const fromFile = parseJsonl((await runBuiltCli(["score", demoConversations, "-m", tinyModel])).stdout);
        const piped = await runBuiltCli(["score", "-m", tinyModel], readFileSync(demoConversations, "utf8"));
        const dash = await runBuiltCli(["score", "-", "-m", tinyModel], readFileSync(demoConversations, "utf8"));
        expect(piped.code).toBe(0);
        expect(parseJsonl(piped.stdout)).toEqual(fromFile);
        expect(parseJsonl(dash.stdout)).toEqual(fromFile);
    });

    it("keeps every non-blank line of a broken file, marks the bad ones, names file:line and exits 3", async () => {
        const good = demoLines[0]!;
        const text = [
            good,
            "not json at all",
            "",
            '{"messages": [{"role": "user", "content": "no answer yet"}]}',
            '["an", "array"]',
            '{"prompt": "no messages field"}',
            good,
        ].join("\n");
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], text);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(6);
        expect(rows.map((r) => r.reward === null)).toEqual([false, true, true, true, true, false]);
        expect(rows[1]).toMatchObject({ line: 2, reward: null, error: expect.stringMatching(/not valid JSON/) });
        expect(rows[2]!.error).toMatch(/not "assistant"/);
        expect(rows[2]!.messages).toBeDefined();
        expect(rows[3]).toMatchObject({ line: 5, error: expect.stringMatching(/not a JSON object/) });
        expect(rows[4]).toMatchObject({ prompt: "no messages field", error: '"response" is missing' });
        // the repeat reuses the cached prefix, and still scores bit for bit the same
        expect(rows[5]!.reward).toBe(rows[0]!.reward);
        for (const line of [2, 4, 5, 6]) expect(stderr).toContain(`<stdin>:${line}:`);
    });

    it("turns a conversation longer than the context into an error row naming its size and the limit", async () => {
        const long = JSON.stringify({ messages: [{ role: "user", content: "x ".repeat(200) }, { role: "assistant", content: "ok" }] });
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "256"], `${long}\n${demoLines[0]}`);
        expect(code).toBe(3);
        const [tooLong, fine] = parseJsonl(stdout);
        expect(tooLong!.reward).toBeNull();
        expect(tooLong!.error).toMatch(/is at least 4\d\d tokens, over the 256-token context/);
        expect(typeof fine!.reward).toBe("number");
    });

    it("prints only data on stdout: progress and warnings go to stderr", async () => {
        const { stdout, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel], `${demoLines[0]}\nbroken\n`);
        expect(() => parseJsonl(stdout)).not.toThrow();
        expect(stdout).not.toMatch(/nemoreward:|llama|warning/);
        expect(stderr).toMatch(/<stdin>:2: not valid JSON/);
    });

    it("is a usage error (exit 2) to name a missing input file or a bad option value", async () => {
        const missing = await runBuiltCli(["score", "no-such-file.jsonl", "-m", tinyModel]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/input file not found: no-such-file.jsonl/);
        expect(missing.stdout).toBe("");
        const bad = await runBuiltCli(["score", "-m", tinyModel, "--context-size", "lots"]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(/context-size/);
    });

    it("--gpu cuda runs on CUDA where it starts, and otherwise falls back to the CPU with a warning", async () => {
        const { code, stdout, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--gpu", "cuda", "--gpu-layers", "max"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toHaveLength(5);
        if (/cuda backend/.test(stderr)) expect(stderr).toMatch(/cuda backend, 3 of 3 layers on the GPU/);
        else expect(stderr).toMatch(/warning: cuda cannot start here \(.+\); falling back to the CPU[\s\S]*cpu backend, 0 of 3 layers/);
    });

    it("fails with exit 1 and one clear line when the model cannot be loaded", async () => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", demoConversations]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/is not a readable GGUF model/);
        expect(stderr).not.toMatch(/\n\s+at /);
    });
});

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
