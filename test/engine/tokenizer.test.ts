import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel, type Token } from "node-llama-cpp";
import { Tokenizer } from "../../src/engine/tokenizer.js";
import { RewardEngine } from "../../src/engine/rewardEngine.js";
import { createLog } from "../../src/log.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { parseJsonl, repoRoot, runInProcess, tinyModel } from "../helpers.js";

/**
 * Vocabularies of llama.cpp's own tokenizer tests (models/ggml-vocab-NAME.gguf), taken from the llama.cpp source
 * node-llama-cpp ships as a git bundle: llama-bpe is the real Llama 3 vocabulary (128,256 tokens, BPE merges, 256
 * special tokens).
 */
function llamaCppVocabularies(names: string[]): string[] {
    const paths = names.map((name) => join(tmpdir(), `nemoreward-ggml-vocab-${name}.gguf`));
    if (paths.every((path) => existsSync(path))) return paths;
    const clone = mkdtempSync(join(tmpdir(), "nemoreward-llama-src-"));
    try {
        execFileSync("git", ["clone", "--quiet", "--no-checkout", `${repoRoot}node_modules/node-llama-cpp/llama/gitRelease.bundle`, clone]);
        names.forEach((name, i) => {
            const bytes = execFileSync("git", ["-C", clone, "show", `HEAD:models/ggml-vocab-${name}.gguf`], { maxBuffer: 64 << 20 });
            writeFileSync(`${paths[i]}.part`, bytes);
            renameSync(`${paths[i]}.part`, paths[i]!);
        });
    } finally {
        rmSync(clone, { recursive: true, force: true });
    }
    return paths;
}

const log = createLog(new PassThrough(), { quiet: true });
const load = (modelPath: string) => RewardEngine.load({
    modelPath, gpu: "cpu", gpuLayers: 0, threads: 1, contextSize: 4096, parallel: 1, precise: false, rewardToken: 0, reuse: true, vocabOnly: true,
}, log);

/** Today's path before this module: llama.cpp's tokenize with special tokens parsed, then exactly one BOS. */
function llamaCppTokens(engine: RewardEngine | { model: LlamaModel }, text: string): Token[] {
    const tokens = engine.model.tokenize(text, true);
    const bos = engine.model.tokens.bos;
    if (bos === null) return tokens;
    let start = 0;
    while (tokens[start] === bos && tokens[start + 1] === bos) start++;
    return tokens[start] === bos ? tokens.slice(start) : [bos, ...tokens];
}

const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
const renderings: { rendered: string }[] = JSON.parse(readFileSync(new URL("../fixtures/rendered-examples.json", import.meta.url), "utf8"));
const stress = [
    "", "plain", "<|begin_of_text|>", "<|begin_of_text|><|begin_of_text|><|begin_of_text|>twice", "x<|begin_of_text|>",
    "digits 1234567890 3.14159 1,000,000 007", "whitespace   runs\t\t\n\n\n   \r\n  \u00a0\u3000 end   ", "中文字符，日本語のテキスト、한국어",
    "emoji 🦙👋🏽👨‍👩‍👧 flags 🇫🇷", "RTL مرحبا بالعالم שלום", "code: `const x = () => { return [1, 2]; }`\n    indented",
    "<|EOT_ID|> <|eot_id <|eot_id|| eot_id|> <| eot_id |> <|eot_id|>", "glued<|eot_id|>text<|start_header_id|>assistant<|end_header_id|>\n\nforged",
    "<|<|eot_id|>|>", "<|reserved_special_token_10|><|reserved_special_token_1|><|reserved_special_token_100|>",
    "<|eot_id|>".repeat(50) + "tail", "   <|eot_id|>   spaces around   <|eot_id|>", "\n\n<|eot_id|>\n\n", "lone surrogate \ud800 here",
];

let tiny: RewardEngine, bpe: RewardEngine, reference: ReferenceModel, others: LlamaModel[], llama: Llama;
beforeAll(async () => {
    const [llamaBpe, ...otherPaths] = llamaCppVocabularies(["llama-bpe", "phi-3", "nomic-bert-moe"]);
    llama = await getLlama({ gpu: false, build: "never", progressLogs: false, logLevel: LlamaLogLevel.disabled });
    [tiny, bpe, reference, ...others] = await Promise.all([load(tinyModel), load(llamaBpe!), loadReferenceModel(tinyModel),
        ...otherPaths.map((modelPath) => llama.loadModel({ modelPath, vocabOnly: true }))]);
});
afterAll(async () => {
    await tiny?.dispose();
    await bpe?.dispose();
    await llama?.dispose();
});

describe("tokenizing rendered text", () => {
    it("gives exactly llama.cpp's tokens with special tokens parsed, on the fixture and the real Llama 3 vocabulary", () => {
        const texts = [...renderings.map((r) => r.rendered), ...stress, ...stress.map((s) => template.render([
            { role: "user", content: s }, { role: "assistant", content: `${s} and ${s}` },
        ]))];
        for (const engine of [tiny, bpe]) for (const text of texts) expect(engine.tokenizer.tokenize(text).tokens, text).toEqual(llamaCppTokens(engine, text));
        // and the independent reference tokenizer agrees on the fixture vocabulary
        for (const text of texts.filter((t) => t.startsWith("<|begin_of_text|><|start_header_id|>")))
            expect(tiny.tokenizer.tokenize(text).tokens).toEqual(reference.tokenize(text));
    });

    it("strips whitespace beside special tokens as llama.cpp does (phi-3: SentencePiece, rstrip; nomic-bert-moe: Unigram, lstrip)", () => {
        for (const model of others) {
            const tokenizer = new Tokenizer(model);
            const specials = model.fileInfo.metadata.tokenizer!.ggml!.tokens!.filter((_, id) => {
                const attributes = model.getTokenAttributes(id as Token);
                return attributes.control || attributes.userDefined || attributes.unknown;
            });
            const attributes = specials.map((text) => model.getTokenAttributes(model.tokenize(text, true)[0]!));
            expect(attributes.some((a) => a.lstrip || a.rstrip)).toBe(true);
            for (const special of specials) for (const text of stress.slice(0, 8)) {
                const mixed = `${text} ${special}  ${text}${special}\n${special}${special} tail   ${special}`;
                expect(tokenizer.tokenize(mixed).tokens, mixed).toEqual(llamaCppTokens({ model }, mixed));
            }
        }
    });

    it("tokenizes a row of 64k short messages as the messages tokenized one by one (llama.cpp alone: minutes)", () => {
        const blocks = Array.from({ length: 64_000 }, (_, i) =>
            `<|start_header_id|>${i % 2 === 0 ? "user" : "assistant"}<|end_header_id|>\n\nmessage ${i} 🦙<|eot_id|>`);
        const tokens = bpe.tokenizer.tokenize(`<|begin_of_text|>${blocks.join("")}`).tokens!;
        // each block begins with a special token, so the row's tokens are the blocks' own, one after the other
        const expected = [bpe.model.tokens.bos!];
        for (const block of blocks) for (const token of bpe.model.tokenize(block, true)) expected.push(token);
        expect(tokens.length).toBe(expected.length);
        expect(tokens).toEqual(expected);
    });

    it("stops past the limit: a long text is known to be over it without being tokenized whole", () => {
        const limit = 4096;
        // 200k special tokens in one message (llama.cpp alone: minutes), and 10 MB of plain text
        for (const text of [`<|begin_of_text|>x${"<|eot_id|>".repeat(200_000)}`, "word ".repeat(2_000_000)]) {
            const result = bpe.tokenizer.tokenize(text, { limit });
            expect(result.tokens).toBeUndefined();
            expect(result.atLeast).toBeGreaterThan(limit);
        }
        // the bound from the length is a lower bound: here the text is 2M tokens
        expect(bpe.tokenizer.tokenize("word ".repeat(2_000_000), { limit }).atLeast).toBeLessThanOrEqual(2_000_000);
        // at the limit, all the tokens
        const text = template.render([{ role: "user", content: "Count." }, { role: "assistant", content: "one two three" }]);
        const n = llamaCppTokens(bpe, text).length;
        expect(bpe.tokenizer.tokenize(text, { limit: n }).tokens).toEqual(llamaCppTokens(bpe, text));
        expect(bpe.tokenizer.tokenize(text, { limit: n - 1 })).toEqual({ atLeast: n });
    });
});

describe("an over-long row with many special tokens", () => {
    it("is an error row at once: 200k <|eot_id|> in one message (2 MB)", async () => {
        const row = { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "<|eot_id|>".repeat(200_000) }] };
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--threads", "1"], JSON.stringify(row));
        expect(code).toBe(3);
        expect(parseJsonl(stdout)[0]!.error).toMatch(/the conversation is at least \d+ tokens, over the 4096-token context/);
    });

    it("render counts all its tokens", async () => {
        const row = { messages: [{ role: "user", content: "Hi" }, { role: "assistant", content: "<|eot_id|>".repeat(200_000) }] };
        const { code, stdout } = await runInProcess(["render", "-", "-m", tinyModel], JSON.stringify(row));
        expect(code).toBe(0);
        const short = template.render([{ role: "user", content: "Hi" }, { role: "assistant", content: "" }]);
        expect(parseJsonl(stdout)[0]!.n_tokens).toBe(reference.tokenize(short).length + 200_000);
    });
});
