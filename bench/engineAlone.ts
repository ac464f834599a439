/**
 * The engine alone: node-llama-cpp scoring pre-rendered prompts with the same context settings as nemoreward,
 * keeping a shared prefix in the KV cache as nemoreward does, and nothing else (no input parsing, no templates,
 * no output formatting). The benchmark's baseline.
 *
 * node dist/bench/engineAlone.js MODEL PROMPTS.json THREADS [PARALLEL] [BATCH] [FLASH(0|1)]
 * Prints {rewards, tokens, seconds}: seconds spent evaluating, load excluded.
 */
import { readFileSync } from "node:fs";
import { getLlama, LlamaLogLevel, type Token } from "node-llama-cpp";
import { contextCells } from "../src/engine/rewardEngine.js";

const [modelPath, promptsPath, threadsArg, parallelArg] = process.argv.slice(2);
const threads = Number(threadsArg);
const parallel = Number(parallelArg ?? 1);
const [batchArg, flashArg] = process.argv.slice(6);
const prompts: string[] = JSON.parse(readFileSync(promptsPath!, "utf8"));

const llama = await getLlama({ gpu: "auto", build: "never", maxThreads: threads, logLevel: LlamaLogLevel.error });
const model = await llama.loadModel({ modelPath: modelPath! });
const context = await model.createContext({
    contextSize: contextCells(4096), sequences: parallel, threads, flashAttention: flashArg === "1",
    ...(batchArg === undefined ? {} : { batchSize: Number(batchArg) }),
});
const started = performance.now();
const rewards: number[] = new Array(prompts.length);
let next = 0;
let evaluated = 0;
await Promise.all(Array.from({ length: parallel }, async () => {
    const sequence = context.getSequence();
    while (next < prompts.length) {
        const i = next++;
        const tokens = model.tokenize(prompts[i]!, true);
        evaluated += tokens.length;
        const start = Math.min(sequence.compareContextTokens(tokens).firstDifferentIndex, tokens.length - 1);
        if (start < sequence.nextTokenIndex) await sequence.eraseContextTokenRanges([{ start, end: sequence.nextTokenIndex }]);
        const input: (Token | [Token, object])[] = tokens.slice(start);
        input[input.length - 1] = [tokens[tokens.length - 1]!, { generateNext: { logits: { filter: { tokens: [0] } } } }];
        const results = await sequence.controlledEvaluate(input as Parameters<typeof sequence.controlledEvaluate>[0]);
        rewards[i] = results[input.length - 1]!.next.logits!.get(0 as Token)!;
    }
}));
process.stdout.write(JSON.stringify({ rewards, tokens: evaluated, seconds: (performance.now() - started) / 1000 }));
await llama.dispose();
