import { beforeAll, describe, expect, it } from "vitest";
import type { Token } from "node-llama-cpp";
import { RowError } from "../../src/errors.js";
import type { Conversation } from "../../src/conversation/toConversation.js";
import type { Prepared } from "../../src/run/scoreTask.js";
import { truncate } from "../../src/run/truncate.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { parseJsonl, runInProcess, tinyModel } from "../helpers.js";

/** The cut as it was chosen before: every cut in turn, from the oldest turns, until all conversations fit. */
function truncateOneByOne(conversations: Conversation[], count: (c: Conversation) => number, contextSize: number): Conversation[] {
    const head = conversations[0]![0]?.role === "system" ? 1 : 0;
    for (let cut = head + 1; cut < conversations[0]!.length; cut++) {
        if (!conversations.every((c) => c[cut]?.role === "user")) continue;
        const kept = conversations.map((conversation) => [...conversation.slice(0, head), ...conversation.slice(cut)]);
        if (kept.every((c) => count(c) <= contextSize)) return kept;
    }
    throw new RowError(`even the final turns are over the ${contextSize}-token context (--context-size)`);
}

/** A pseudo-random generator, so that a failure can be replayed. */
function random(seed: number): () => number {
    return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

describe("truncation", () => {
    it("keeps the same turns as trying every cut in turn", () => {
        const next = random(7);
        const pick = <T>(items: readonly T[]) => items[Math.floor(next() * items.length)]!;
        // a token count that grows with each message, as the template's blocks do
        const count = (c: Conversation) => c.reduce((n, m) => n + 5 + m.content.length, 1);
        const prepare = (c: Conversation, contextSize: number): Prepared => {
            const n = count(c);
            return n > contextSize ? { rendered: JSON.stringify(c), specialInContent: false, atLeast: n }
                : { rendered: JSON.stringify(c), specialInContent: false, tokens: Array.from({ length: n }, () => 1 as Token) };
        };
        let cases = 0, failures = 0;
        for (let i = 0; i < 3000; i++) {
            // mostly alternating turns, sometimes two user turns in a row or an assistant turn first
            const length = 2 + Math.floor(next() * 14);
            const prompt: Conversation = Array.from({ length }, (_, j) => ({
                role: j === 0 && next() < 0.4 ? "system" : next() < 0.15 ? pick(["user", "assistant"]) : j % 2 === length % 2 ? "assistant" : "user",
                content: "x".repeat(Math.floor(next() * 40)),
            }));
            const responses = Array.from({ length: 1 + Math.floor(next() * 3) }, () =>
                [...prompt, { role: "assistant", content: "y".repeat(Math.floor(next() * 60)) }]);
            const contextSize = 10 + Math.floor(next() * 300);
            let want: Conversation[] | string, got: Conversation[] | string;
            try {
                want = truncateOneByOne(responses, count, contextSize);
            } catch (error) {
                want = (error as Error).message;
                failures++;
            }
            try {
                got = truncate(responses, (c) => prepare(c, contextSize), contextSize).map((p) => JSON.parse(p.rendered));
            } catch (error) {
                got = (error as Error).message;
            }
            expect(got).toEqual(want);
            cases++;
        }
        // both outcomes were tried many times
        expect(failures).toBeGreaterThan(100);
        expect(cases - failures).toBeGreaterThan(100);
    });

    describe("of a conversation of thousands of messages", () => {
        const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
        let reference: ReferenceModel;
        beforeAll(async () => {
            reference = await loadReferenceModel(tinyModel);
        });

        it("keeps the newest turns that fit, scored as that conversation alone (2,401 messages)", async () => {
            const messages: Conversation = [{ role: "system", content: "Be brief." }, ...Array.from({ length: 1200 }, (_, i) => [
                { role: "user", content: `question ${i}: ${"why ".repeat(i % 7)}` }, { role: "assistant", content: `answer ${i}` },
            ]).flat()];
            const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--threads", "1", "--on-overlong", "truncate"], JSON.stringify({ messages }));
            expect(code).toBe(0);
            const row = parseJsonl(stdout)[0]!;
            expect(row.truncated).toBe(true);
            // the first cut that fits, found from the newest turns back with the reference tokenizer
            const kept = (cut: number) => [messages[0]!, ...messages.slice(cut)];
            const fits = (cut: number) => reference.tokenize(template.render(kept(cut))).length <= 4096;
            let cut = messages.length - 2;
            while (fits(cut - 2)) cut -= 2;
            expect(fits(cut)).toBe(true);
            const direct = await runInProcess(["score", "-", "-m", tinyModel, "--threads", "1"], JSON.stringify({ messages: kept(cut) }));
            expect(row.reward).toBe(parseJsonl(direct.stdout)[0]!.reward);
        });
    });
});
