/**
 * `npm run bench`: nemoreward's whole-process time against node-llama-cpp alone on the same prompts,
 * on a generated mid-size model (hidden 512, 8 layers, f16). Prints markdown tables on stdout.
 * BENCH_QUICK=1 runs a smaller version.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { writeModel, type ModelSpec } from "../fixtures/makeModel.js";
import { ChatTemplate } from "../src/template/chatTemplate.js";
import { llama31Template } from "../src/template/llama31Template.js";
import { availableCores } from "../src/engine/availableCores.js";

const quick = process.env["BENCH_QUICK"] === "1";
const threads = availableCores();
const dir = "bench/models";
mkdirSync(dir, { recursive: true });

const midSpec: ModelSpec = {
    name: "nemoreward-bench-mid", hidden: 512, layers: 8, heads: 8, kvHeads: 2, ffn: 1536,
    contextLength: 8192, weightType: "f16", seed: 7,
};
const modelPath = `${dir}/mid-h512-l8-f16.gguf`;
if (!existsSync(modelPath)) writeModel(modelPath, midSpec);

const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
const words = ("data model reward score token prompt answer question rank filter clean batch stream row file " +
    "value output input train test eval metric loss layer head vector matrix cache memory speed").split(" ");
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
const text = (bytes: number) => {
    let out = "";
    while (out.length < bytes) out += `${words[Math.floor(random() * words.length)]} `;
    return out.trim();
};
type Conversation = { messages: { role: string; content: string }[] };
const conversation = (prompt: string, response: string): Conversation =>
    ({ messages: [{ role: "user", content: prompt }, { role: "assistant", content: response }] });

type Run = { seconds: number; peakMiB: number | undefined; stdout: string };

/** Runs a command to completion, timing the whole process and reading its peak RSS from GNU time when present. */
function run(args: string[]): Run {
    const useTime = existsSync("/usr/bin/time");
    const [cmd, argv] = useTime ? ["/usr/bin/time", ["-f", "peak-kib %M", ...args]] : [args[0]!, args.slice(1)];
    const started = performance.now();
    const child = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 1 << 30 });
    const seconds = (performance.now() - started) / 1000;
    if (child.status !== 0) throw new Error(`${args.join(" ")} failed (${child.status}):\n${child.stderr}`);
    const kib = /peak-kib (\d+)/.exec(child.stderr)?.[1];
    return { seconds, peakMiB: kib === undefined ? undefined : Number(kib) / 1024, stdout: child.stdout };
}

function best(reps: number, args: string[]): Run {
    const runs = Array.from({ length: reps }, () => run(args));
    return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

function writeCase(name: string, conversations: Conversation[]): { jsonl: string; prompts: string } {
    const jsonl = `${dir}/${name}.jsonl`, prompts = `${dir}/${name}.prompts.json`;
    writeFileSync(jsonl, conversations.map((c) => JSON.stringify(c)).join("\n") + "\n");
    writeFileSync(prompts, JSON.stringify(conversations.map((c) => template.render(c.messages))));
    return { jsonl, prompts };
}

const cli = (jsonl: string, ...flags: string[]) =>
    ["node", "bin/nemoreward.js", "score", jsonl, "-m", modelPath, "--threads", String(threads), "-q", ...flags];
const engine = (prompts: string, parallel = 1) =>
    ["node", "dist/bench/engineAlone.js", modelPath, prompts, String(threads), String(parallel)];

const reps = quick ? 1 : 2;
const rows: string[] = [];
const fmt = (n: number, digits = 0) => n.toFixed(digits);

// Long conversations: the CLI's overhead over the engine on the work that dominates real jobs.
{
    const n = quick ? 4 : 16;
    const conversations = Array.from({ length: n }, () => conversation(text(1000), text(450)));
    const { jsonl, prompts } = writeCase("long", conversations);
    const engineRun = best(reps, engine(prompts));
    const { tokens } = JSON.parse(engineRun.stdout) as { tokens: number };
    const cliRun = best(reps, cli(jsonl));
    rows.push(`| long conversations (${n} × ~${Math.round(tokens / n)} tokens) | ${fmt(tokens / cliRun.seconds)} tok/s ` +
        `| ${fmt(tokens / engineRun.seconds)} tok/s | ${fmt(100 * engineRun.seconds / cliRun.seconds)}% ` +
        `| ${fmt(cliRun.peakMiB ?? NaN)} MiB |`);

    // How far the default engine settings are from --precise (f32 KV cache) on these long rows.
    const rewards = (r: Run) => r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { reward: number }).reward);
    const precise = rewards(run(cli(jsonl, "--precise")));
    const drift = Math.max(...rewards(cliRun).map((r, i) => Math.abs(r - precise[i]!)));
    rows.push(`| default vs --precise, max abs reward difference | ${drift.toExponential(2)} | | | |`);
}

const cpu = cpus()[0]?.model ?? "unknown CPU";
process.stdout.write(
    `Machine: ${cpu}, ${threads} threads used, node ${process.version}; model ${midSpec.hidden} hidden × ` +
    `${midSpec.layers} layers, ${midSpec.weightType}; best of ${reps}; whole-process times (load included).\n\n` +
    "| case | nemoreward | engine alone | CLI speed / engine | CLI peak RSS |\n|---|---|---|---|---|\n" +
    rows.join("\n") + "\n",
);
