/** What the CPU and GPU benchmarks share: synthetic conversations, timed whole-process runs. */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { ChatTemplate } from "../src/template/chatTemplate.js";
import { llama31Template } from "../src/template/llama31Template.js";

export const dir = "bench/models";
mkdirSync(dir, { recursive: true });

const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
const words = ("data model reward score token prompt answer question rank filter clean batch stream row file " +
    "value output input train test eval metric loss layer head vector matrix cache memory speed").split(" ");
let seed = 42;
const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
export const text = (bytes: number) => {
    let out = "";
    while (out.length < bytes) out += `${words[Math.floor(random() * words.length)]} `;
    return out.trim();
};
export type Conversation = { messages: { role: string; content: string }[] };
export const conversation = (prompt: string, response: string): Conversation =>
    ({ messages: [{ role: "user", content: prompt }, { role: "assistant", content: response }] });

export type Run = { seconds: number; peakMiB: number | undefined; stdout: string; stderr: string };

/** Runs a command to completion, timing the whole process and reading its peak RSS from GNU time when present. */
export function run(args: string[], env: NodeJS.ProcessEnv = process.env): Run {
    const useTime = existsSync("/usr/bin/time");
    const [cmd, argv] = useTime ? ["/usr/bin/time", ["-f", "peak-kib %M", ...args]] : [args[0]!, args.slice(1)];
    const started = performance.now();
    const child = spawnSync(cmd, argv, { encoding: "utf8", maxBuffer: 1 << 30, env });
    const seconds = (performance.now() - started) / 1000;
    if (child.status !== 0) throw new Error(`${args.join(" ")} failed (${child.status}):\n${child.stderr}`);
    const kib = /peak-kib (\d+)/.exec(child.stderr)?.[1];
    return { seconds, peakMiB: kib === undefined ? undefined : Number(kib) / 1024, stdout: child.stdout, stderr: child.stderr };
}

export function best(reps: number, args: string[], env?: NodeJS.ProcessEnv): Run {
    const runs = Array.from({ length: reps }, () => run(args, env));
    return runs.reduce((a, b) => (b.seconds < a.seconds ? b : a));
}

export function writeCase(name: string, conversations: Conversation[]): { jsonl: string; prompts: string } {
    const jsonl = `${dir}/${name}.jsonl`, prompts = `${dir}/${name}.prompts.json`;
    writeFileSync(jsonl, conversations.map((c) => JSON.stringify(c)).join("\n") + "\n");
    writeFileSync(prompts, JSON.stringify(conversations.map((c) => template.render(c.messages))));
    return { jsonl, prompts };
}

export const fmt = (n: number, digits = 0) => n.toFixed(digits);
export const rewardsOf = (r: Run) => r.stdout.trim().split("\n").map((l) => (JSON.parse(l) as { reward: number }).reward);
export const maxDrift = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

/** The 1-minute load average, to print beside each number measured on a shared machine. */
export const load = () => (existsSync("/proc/loadavg") ? readFileSync("/proc/loadavg", "utf8").split(" ")[0]! : "n/a");
