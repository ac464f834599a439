import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { RewardEngine } from "../../src/engine/rewardEngine.js";
import { createLog } from "../../src/log.js";
import { demoConversations, parseJsonl, runInProcess, tinyModel } from "../helpers.js";
import { PassThrough } from "node:stream";

const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });

function longConversation(words: number, seed: number) {
    const lorem = "the quick brown fox jumps over a lazy dog while rain falls softly on green hills".split(" ");
    const text = Array.from({ length: words }, (_, i) => lorem[(i * 7 + seed) % lorem.length]).join(" ");
    return { messages: [{ role: "user", content: `Summarise: ${text}` }, { role: "assistant", content: text.slice(0, 200) }] };
}

const records = [
    ...readFileSync(demoConversations, "utf8").trim().split("\n").map((l) => JSON.parse(l)),
    longConversation(300, 1),
    longConversation(320, 5),
];
const input = records.map((r) => JSON.stringify(r)).join("\n") + "\n";

let reference: ReferenceModel;
let expected: number[];

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
    expected = records.map((r) => reference.logits(reference.tokenize(template.render(r.messages)), [0])[0]!);
}, 120_000);

describe("rewards of the fixture model", () => {
    it("tokenizes the rendered text as the reference does, with exactly one BOS", async () => {
        const engine = await RewardEngine.load({
            modelPath: tinyModel, gpu: "cpu", gpuLayers: 0, threads: 2, contextSize: 4096, parallel: 1,
            precise: true, rewardToken: 0, reuse: true, vocabOnly: true,
        }, createLog(new PassThrough(), { quiet: true }));
        try {
            for (const r of records) {
                const rendered = template.render(r.messages);
                const tokens = engine.tokenize(rendered);
                expect(tokens).toEqual(reference.tokenize(rendered));
                expect(tokens.filter((t) => t === engine.model.tokens.bos)).toHaveLength(1);
            }
        } finally {
            await engine.dispose();
        }
    });

    it("equal an independent float64 forward pass within 1e-3 with --precise", async () => {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise", "--gpu", "cpu"], input);
        expect(code).toBe(0);
        const rewards = parseJsonl(stdout).map((row) => row.reward as number);
        expect(rewards).toHaveLength(records.length);
        rewards.forEach((reward, i) => expect(Math.abs(reward - expected[i]!)).toBeLessThan(1e-3));
        // the rows differ from each other by far more than the tolerance, so an off-by-one row would fail
        expect(new Set(expected.map((e) => e.toFixed(3))).size).toBe(records.length);
    });

    it("stay close to the reference with default engine settings (f16 KV cache)", async () => {
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--gpu", "cpu"], input);
        const rewards = parseJsonl(stdout).map((row) => row.reward as number);
        rewards.forEach((reward, i) => expect(Math.abs(reward - expected[i]!)).toBeLessThan(0.05));
    });

    it("score a row exactly as long as --context-size like any other; one token longer is refused", async () => {
        // node-llama-cpp pads contexts to multiples of 256 tokens, so the edge shows at such a size (like the default 4096)
        const size = 512;
        const grow = (chars: number) => ({ messages: [{ role: "user", content: "Count." }, { role: "assistant", content: "one two three ".repeat(100).slice(0, chars) }] });
        const tokensOf = (chars: number) => reference.tokenize(template.render(grow(chars).messages));
        let chars = 1;
        while (tokensOf(chars).length < size) chars++;
        const row = grow(chars);
        expect(tokensOf(chars)).toHaveLength(size);
        const run = (contextSize: number) => runInProcess(["score", "-", "-m", tinyModel, "--precise", "--gpu", "cpu",
            "--context-size", String(contextSize)], JSON.stringify(row));
        const exact = await run(size);
        expect(exact.code).toBe(0);
        const want = reference.logits(tokensOf(chars), [0])[0]!;
        expect(Math.abs(parseJsonl(exact.stdout)[0]!.reward - want)).toBeLessThan(1e-3);
        const short = await run(size - 1);
        expect(short.code).toBe(3);
        expect(parseJsonl(short.stdout)[0]!.error).toMatch(new RegExp(`${size} tokens, over the ${size - 1}-token context`));
    });

    it("read the logit of --reward-token instead of token 0", async () => {
        const one = records[0]!;
        const tokens = reference.tokenize(template.render(one.messages));
        const [logit5] = reference.logits(tokens, [5]);
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise", "--reward-token", "5"], JSON.stringify(one));
        expect(Math.abs(parseJsonl(stdout)[0]!.reward - logit5!)).toBeLessThan(1e-3);
    });
});
