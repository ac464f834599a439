/**
 * GPU benchmark, run by hand through bench/gpu.sh on a machine with an NVIDIA GPU (never by CI).
 * Generates a 1.5B-parameter llama model (hidden 2048, 24 layers, f16: as large as generating it in JS
 * allows in about a minute), then prints tokens/s for nemoreward with --parallel 1/4/16 and for
 * node-llama-cpp alone on the same prompts, and the scaling from one GPU to all of them (--gpus).
 */
import { existsSync } from "node:fs";
import { writeModel, type ModelSpec } from "../fixtures/makeModel.js";
import { availableCores } from "../src/engine/availableCores.js";
import { execFileSync } from "node:child_process";
import { best, conversation, dir, fmt, maxDrift, rewardsOf, text, writeCase } from "./harness.js";

// GPU_BENCH_SMOKE=1: a tiny version to check the script itself on a machine without a GPU.
const smoke = process.env["GPU_BENCH_SMOKE"] === "1";
const spec: ModelSpec = smoke
    ? { name: "nemoreward-bench-gpu-smoke", hidden: 256, layers: 2, heads: 4, kvHeads: 2, ffn: 512, contextLength: 8192, weightType: "f16", seed: 11 }
    : { name: "nemoreward-bench-gpu", hidden: 2048, layers: 24, heads: 32, kvHeads: 8, ffn: 8192, contextLength: 8192, weightType: "f16", seed: 11 };
const modelPath = `${dir}/${spec.name}.gguf`;
const started = performance.now();
if (!existsSync(modelPath)) writeModel(modelPath, spec);
process.stderr.write(`model ready in ${fmt((performance.now() - started) / 1000, 1)} s\n`);

const threads = String(availableCores());
const n = smoke ? 8 : 128;
const { jsonl, prompts } = writeCase("gpu-long", Array.from({ length: n }, () => conversation(text(700), text(300))));
const cli = (parallel: number) => ["node", "bin/nemoreward.js", "score", jsonl, "-m", modelPath, "--gpu", "cuda",
    "--gpu-layers", "max", "--threads", threads, "--parallel", String(parallel)];
const engine = (parallel: number) => ["node", "dist/bench/engineAlone.js", modelPath, prompts, threads, String(parallel)];

const rows: string[] = [];
let baseline: number[] | undefined;
for (const parallel of [1, 4, 16]) {
    const engineRun = best(2, engine(parallel));
    const { tokens } = JSON.parse(engineRun.stdout) as { tokens: number };
    const cliRun = best(2, cli(parallel));
    const rewards = rewardsOf(cliRun);
    baseline ??= rewards;
    rows.push(`| --parallel ${parallel} | ${fmt(tokens / cliRun.seconds)} tok/s | ${fmt(tokens / engineRun.seconds)} tok/s ` +
        `| ${fmt(100 * engineRun.seconds / cliRun.seconds)}% | ${maxDrift(baseline, rewards).toExponential(2)} |`);
}
process.stdout.write(`${spec.hidden} hidden × ${spec.layers} layers f16, ${n} conversations of ~1,000 tokens, ` +
    "whole-process times (load included), best of 2\n\n" +
    "| case | nemoreward | engine alone | nemoreward / engine | max abs reward diff vs --parallel 1 |\n|---|---|---|---|---|\n" +
    rows.join("\n") + "\n");

// One worker per GPU (--gpus): 1, 2, ... all of the machine's GPUs, on the same rows; the output must not change.
let gpus = 1;
try {
    gpus = execFileSync("nvidia-smi", ["-L"], { encoding: "utf8" }).trim().split("\n").filter((line) => line.startsWith("GPU ")).length;
} catch { /* no nvidia-smi (a smoke run): one */ }
const counts = [...new Set([1, 2, 4, 8, gpus].filter((count) => count <= gpus))].sort((a, b) => a - b);
const scaling: string[] = [];
let one: ReturnType<typeof best> | undefined;
for (const count of counts) {
    const ids = Array.from({ length: count }, (_, k) => String(k)).join(",");
    const runOf = best(2, [...cli(16).slice(0, -2), "--parallel", "16", ...(count > 1 ? ["--gpus", ids] : [])]);
    one ??= runOf;
    // with 16 sequences a row's reward depends on its batch's rounding (README, Reproducibility): compared, not required equal
    scaling.push(`| ${count} GPU${count === 1 ? "" : "s"} | ${fmt(n / runOf.seconds, 1)} rows/s | ${fmt(one.seconds / runOf.seconds, 2)}× ` +
        `| ${maxDrift(rewardsOf(one), rewardsOf(runOf)).toExponential(2)} |`);
}
process.stdout.write(`\n| --gpus (--parallel 16) | nemoreward | vs 1 GPU | max abs reward diff vs 1 GPU |\n|---|---|---|---|\n${scaling.join("\n")}\n`);
