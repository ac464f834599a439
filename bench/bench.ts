/**
 * `npm run bench`: nemoreward's whole-process time against node-llama-cpp alone on the same prompts,
 * on a generated mid-size model (hidden 512, 8 layers, f16). Prints markdown tables on stdout.
 * BENCH_QUICK=1 runs a smaller version; `npm run bench -- SECTION...` runs only those sections.
 */
import { existsSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { spawn } from "node:child_process";
import { cpus } from "node:os";
import { writeModel, type ModelSpec } from "../fixtures/makeModel.js";
import { availableCores } from "../src/engine/availableCores.js";
import { localBuildsDirectory } from "../src/engine/localBuild.js";
import { best, conversation, dir, fmt, load, maxDrift, rewardsOf, run, text, writeCase } from "./harness.js";

const quick = process.env["BENCH_QUICK"] === "1";
/** `npm run bench -- filter serve`: only the sections named (engine, workers, best-of-8, memory, stalls, threads, llama-bench, parquet, filter, serve, startup); none named, all. */
const only = process.argv.slice(2);
const wanted = (section: string) => only.length === 0 || only.includes(section);
const threads = availableCores();

const midSpec: ModelSpec = {
    name: "nemoreward-bench-mid", hidden: 512, layers: 8, heads: 8, kvHeads: 2, ffn: 1536,
    contextLength: 8192, weightType: "f16", seed: 7,
};
const modelPath = `${dir}/mid-h512-l8-f16.gguf`;
if (!existsSync(modelPath)) writeModel(modelPath, midSpec);

const cliThreads = (jsonl: string, count: number, ...flags: string[]) =>
    ["node", "bin/nemoreward.js", "score", jsonl, "-m", modelPath, "--threads", String(count), "-q", ...flags];
const cli = (jsonl: string, ...flags: string[]) => cliThreads(jsonl, threads, ...flags);
const engine = (prompts: string, parallel = 1) =>
    ["node", "dist/bench/engineAlone.js", modelPath, prompts, String(threads), String(parallel)];

const reps = quick ? 1 : 2;
const cpu = cpus()[0]?.model ?? "unknown CPU";
process.stdout.write(
    `Machine: ${cpu}, ${threads} threads used, node ${process.version}; model ${midSpec.hidden} hidden × ` +
    `${midSpec.layers} layers, ${midSpec.weightType}; whole-process times (load included), best of ${reps} ` +
    "(sweeps and --no-reuse: one run).\n\n" +
    (["engine", "workers", "best-of-8", "memory", "stalls"].some(wanted)
        ? "| case | nemoreward | engine alone | nemoreward / engine | nemoreward peak RSS |\n|---|---|---|---|---|\n" : ""),
);
/** Each result is printed as soon as it is measured. */
const rows = { push: (line: string) => process.stdout.write(`${line}\n`) };


// Long conversations: the CLI's overhead over the engine on the work that dominates real jobs.
if (wanted("engine")) {
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
    const precise = rewardsOf(run(cli(jsonl, "--precise")));
    rows.push(`| default vs --precise on long rows, max abs reward difference | ${maxDrift(rewardsOf(cliRun), precise).toExponential(2)} | | | |`);
}

// Many tiny rows: per-row overhead (parsing, templates, output) against the engine's own per-row cost.
if (wanted("engine")) {
    const n = quick ? 100 : 400;
    const conversations = Array.from({ length: n }, () => conversation(text(40), text(30)));
    const { jsonl, prompts } = writeCase("tiny", conversations);
    const engineRun = best(reps, engine(prompts));
    const cliRun = best(reps, cli(jsonl, "--parallel", "1"));
    rows.push(`| tiny rows (${n} × ~${Math.round((JSON.parse(engineRun.stdout) as { tokens: number }).tokens / n)} tokens) ` +
        `| ${fmt(n / cliRun.seconds, 1)} rows/s | ${fmt(n / engineRun.seconds, 1)} rows/s ` +
        `| ${fmt(100 * engineRun.seconds / cliRun.seconds)}% | ${fmt(cliRun.peakMiB ?? NaN)} MiB |`);
    // Memory must not grow with the input: the same rows four times over.
    const big = `${dir}/tiny-x4.jsonl`;
    writeFileSync(big, readFileSync(jsonl, "utf8").repeat(4));
    const bigRun = run(cli(big, "--parallel", "1"));
    rows.push(`| tiny rows × 4 (${4 * n} rows): peak RSS | ${fmt(bigRun.peakMiB ?? NaN)} MiB (vs ${fmt(cliRun.peakMiB ?? NaN)} MiB) | | | |`);
    for (const parallel of [2, 4]) {
        const parallelRun = run(cli(jsonl, "--parallel", String(parallel)));
        const parallelEngine = run(engine(prompts, parallel));
        rows.push(`| tiny rows, --parallel ${parallel} | ${fmt(n / parallelRun.seconds, 1)} rows/s ` +
            `| ${fmt(n / parallelEngine.seconds, 1)} rows/s | ${fmt(100 * parallelEngine.seconds / parallelRun.seconds)}% ` +
            `| ${fmt(parallelRun.peakMiB ?? NaN)} MiB |`);
    }
}

// Worker processes (--workers N, the path --gpus takes with a GPU each) against one process with the same cores:
// tiny rows and long ones, each alternating between the two, best of the reps; the outputs must be byte-identical.
if (wanted("workers") && threads >= 2) {
    const cases = [
        { name: "tiny rows", conversations: Array.from({ length: quick ? 100 : 400 }, () => conversation(text(40), text(30))) },
        { name: "long rows", conversations: Array.from({ length: quick ? 4 : 16 }, () => conversation(text(1000), text(450))) },
    ];
    for (const { name, conversations } of cases) {
        const { jsonl } = writeCase(`workers-${name.split(" ")[0]}`, conversations);
        const oneArgs = cliThreads(jsonl, threads), workerArgs = cliThreads(jsonl, 1, "--workers", String(threads));
        const one: ReturnType<typeof run>[] = [], workers: ReturnType<typeof run>[] = [];
        for (let rep = 0; rep < reps; rep++) {
            one.push(run(oneArgs));
            workers.push(run(workerArgs));
        }
        const [a, b] = [one, workers].map((runs) => runs.reduce((x, y) => (y.seconds < x.seconds ? y : x)));
        const n = conversations.length;
        rows.push(`| ${name} (${n}), --workers ${threads} --threads 1 vs --threads ${threads} | ${fmt(n / b!.seconds, 1)} rows/s ` +
            `| ${fmt(n / a!.seconds, 1)} rows/s (one process) | ${fmt(a!.seconds / b!.seconds, 2)}× | ${fmt(b!.peakMiB ?? NaN)} MiB (the largest process) |`);
        if (a!.stdout !== b!.stdout) throw new Error(`--workers ${threads} wrote other bytes than one process on ${name}`);
    }
}

// Best-of-8: eight responses per prompt on consecutive rows; prefix reuse evaluates each prompt once.
if (wanted("best-of-8")) {
    const n = quick ? 8 : 64;
    const conversations = Array.from({ length: n }, () => text(250)).flatMap((prompt) =>
        Array.from({ length: 8 }, () => conversation(prompt, text(40))));
    const { jsonl } = writeCase("best-of-8", conversations);
    const reused = best(reps, cli(jsonl));
    const fresh = run(cli(jsonl, "--no-reuse"));
    rows.push(`| best-of-8 (${n} prompts × 8), prefix reuse on vs --no-reuse | ${fmt(8 * n / reused.seconds, 1)} rows/s ` +
        `| ${fmt(8 * n / fresh.seconds, 1)} rows/s (--no-reuse) | ${fmt(fresh.seconds / reused.seconds, 2)}× faster ` +
        `| ${fmt(reused.peakMiB ?? NaN)} MiB |`);
    rows.push(`| best-of-8, reuse vs --no-reuse, max abs reward difference | ${maxDrift(rewardsOf(reused), rewardsOf(fresh)).toExponential(2)} | | | |`);
    for (const parallel of [2, 4]) {
        const parallelRun = run(cli(jsonl, "--parallel", String(parallel)));
        rows.push(`| best-of-8, --parallel ${parallel} | ${fmt(8 * n / parallelRun.seconds, 1)} rows/s | | ` +
            `${fmt(reused.seconds / parallelRun.seconds, 2)}× --parallel 1 | ${fmt(parallelRun.peakMiB ?? NaN)} MiB |`);
        rows.push(`| best-of-8, --parallel ${parallel} vs 1, max abs reward difference | ` +
            `${maxDrift(rewardsOf(reused), rewardsOf(parallelRun)).toExponential(2)} | | | |`);
    }
}

// Peak memory must not grow with the number of rows (bench/memory.ts).
if (wanted("memory")) for (const line of (await import("./memory.js")).memoryCase(quick, threads)) rows.push(line);

// Rows that once stalled a whole run: tokenizing took time growing with the square of the special tokens in a row,
// and truncation with the square of its turns. Each row alone, whole process.
if (wanted("stalls")) {
    const turns = (n: number) => Array.from({ length: n }, (_, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content: `message ${i} ${text(20)}` }));
    const cases: [string, string, object, string[]][] = [
        ["a row of 32k short messages (render: every token counted)", "render", { messages: turns(32_000) }, []],
        ["50k <|eot_id|> in one message (render)", "render", conversation("Hi", "<|eot_id|>".repeat(50_000)), []],
        ["2,000 messages, --on-overlong truncate", "score", { messages: turns(2_000) }, ["--threads", String(threads), "--on-overlong", "truncate"]],
    ];
    for (const [name, command, row, flags] of cases) {
        const jsonl = `${dir}/stall-${cases.findIndex((c) => c[0] === name)}.jsonl`;
        writeFileSync(jsonl, `${JSON.stringify(row)}\n`);
        const one = run(["node", "bin/nemoreward.js", command, jsonl, "-m", modelPath, "-q", ...flags]);
        rows.push(`| ${name} | ${fmt(one.seconds, 1)} s | | | ${fmt(one.peakMiB ?? NaN)} MiB |`);
    }
}

/** A run with node-llama-cpp's prebuilt binaries: the local build of `nemoreward build` is moved aside meanwhile. */
function withPrebuilt<T>(work: () => T): T {
    const localBuilds = localBuildsDirectory();
    const hidden = `${localBuilds}.hidden-by-bench`;
    if (existsSync(hidden) && !existsSync(localBuilds)) renameSync(hidden, localBuilds); // an earlier bench was stopped
    if (!existsSync(localBuilds)) return work();
    renameSync(localBuilds, hidden);
    try { return work(); } finally { renameSync(hidden, localBuilds); }
}

// Threads: the default (auto) and explicit counts (a ceiling, backed off like auto) against a fixed count, on an
// idle machine and beside one CPU-bound process, with each CPU engine (the prebuilt one's threads spin, and a fixed
// count collapsed beside a busy process): an explicit --threads must stay within 1.5× of the best.
if (wanted("threads")) {
    const n = quick ? 50 : 100;
    const { jsonl } = writeCase("threads", Array.from({ length: n }, () => conversation(text(40), text(30))));
    const { NEMOREWARD_THREADS: _, ...env } = process.env;
    const byDefault = ["node", "bin/nemoreward.js", "score", jsonl, "-m", modelPath, "-q"];
    const counts = [...new Set([1, threads])];
    process.stdout.write(`\n| ${n} tiny rows | default threads (auto) | ${counts.map((t) => `--threads ${t}`).join(" | ")} | --threads ${threads} --fixed-threads ` +
        `| --threads ${threads} / best | load (1 min) |\n|---|---|${counts.map(() => "---|").join("")}---|---|---|\n`);
    const engines: [string, <T>(work: () => T) => T][] = existsSync(localBuildsDirectory())
        ? [["engine built here", (work) => work()], ["prebuilt engine", withPrebuilt]] : [["prebuilt engine", (work) => work()]];
    for (const [engineName, using] of engines) {
        for (const busy of [false, true]) {
            const competitor = busy ? spawn(process.execPath, ["-e", "for (;;);"], { stdio: "ignore" }) : undefined;
            try {
                const before = load();
                const [auto, explicit, fixed] = using(() => [run(byDefault, env), counts.map((t) => run(cliThreads(jsonl, t))),
                    run(cliThreads(jsonl, threads, "--fixed-threads"))] as const);
                const bestSeconds = Math.min(auto.seconds, fixed.seconds, ...explicit.map((r) => r.seconds));
                rows.push(`| ${engineName}, ${busy ? "beside one CPU-bound process" : "no competing process started"} | ${fmt(n / auto.seconds, 1)} rows/s | ` +
                    `${explicit.map((r) => `${fmt(n / r.seconds, 1)} rows/s`).join(" | ")} | ${fmt(n / fixed.seconds, 1)} rows/s | ` +
                    `${fmt(explicit.at(-1)!.seconds / bestSeconds, 2)}× | ${before}, ${load()} |`);
            } finally {
                competitor?.kill();
            }
        }
    }
}

// llama.cpp's own prompt speed against nemoreward's, same model and threads (llama-bench built from node-llama-cpp's
// bundled source, never in CI: $LLAMA_BENCH, else ../llama-build/build/bin/llama-bench), for both CPU engines:
// node-llama-cpp's prebuilt binaries and the local build of `nemoreward build` (made here first if missing).
// Runs alternate between the three, and each keeps its best, so that a busy neighbour hurts none of them alone.
if (wanted("llama-bench")) {
    const llamaBench = process.env["LLAMA_BENCH"] ?? "../llama-build/build/bin/llama-bench";
    if (!existsSync(llamaBench)) {
        process.stdout.write(`\nllama-bench comparison skipped: no ${llamaBench} (set LLAMA_BENCH).\n`);
    } else {
        const localBuilds = localBuildsDirectory();
        const hidden = `${localBuilds}.hidden-by-bench`;
        if (existsSync(hidden) && !existsSync(localBuilds)) renameSync(hidden, localBuilds); // an earlier bench was stopped
        if (!existsSync(localBuilds)) {
            process.stderr.write("bench: building the CPU engine for this machine (nemoreward build), to measure it against the prebuilt one\n");
            const build = run(["node", "bin/nemoreward.js", "build"]);
            rows.push(`\n\`nemoreward build\` took ${fmt(build.seconds)} s here.`);
        }
        const prebuilt = withPrebuilt;
        const n = quick ? 2 : 16;
        const { jsonl } = writeCase("pp2048", Array.from({ length: n }, () => conversation(text(1400), text(560))));
        const tokens = (JSON.parse(run(engine(`${dir}/pp2048.prompts.json`)).stdout) as { tokens: number }).tokens;
        /** nemoreward's own rate while scoring (its last line), and over the whole process (load included). */
        const ours = (flags: string[]) => {
            const r = run(["node", "bin/nemoreward.js", "score", jsonl, "-m", modelPath, "--threads", String(threads), "--no-reuse", ...flags]);
            return { scoring: Number([...r.stderr.matchAll(/(\d+) tokens\/s\)/g)].at(-1)?.[1] ?? NaN), whole: tokens / r.seconds };
        };
        process.stdout.write(`\n| ${n} rows × ~${Math.round(tokens / n)} tokens, ${threads} threads | nemoreward while scoring | whole process ` +
            "| llama-bench pp2048 (native, -ub 512) | nemoreward / llama-bench | load (1 min) |\n|---|---|---|---|---|---|\n");
        for (const flash of [false, true]) {
            const flags = flash ? ["--flash-attention"] : [];
            const before = load();
            const results = Array.from({ length: reps + 1 }, () => ({
                llama: (JSON.parse(run([llamaBench, "-m", modelPath, "-p", "2048", "-n", "0", "-t", String(threads), "-ub", "512",
                    "-fa", flash ? "1" : "0", "-r", "1", "-o", "json"]).stdout) as { avg_ts: number }[])[0]!.avg_ts,
                local: ours(flags),
                prebuilt: prebuilt(() => ours(flags)),
            }));
            const llama = Math.max(...results.map((r) => r.llama));
            for (const engineName of ["local", "prebuilt"] as const) {
                const scoring = Math.max(...results.map((r) => r[engineName].scoring));
                const whole = Math.max(...results.map((r) => r[engineName].whole));
                rows.push(`| ${engineName === "local" ? "engine built here (`nemoreward build`)" : "prebuilt engine"}${flash ? ", flash attention" : ""} ` +
                    `| ${fmt(scoring)} tok/s | ${fmt(whole)} tok/s | ${fmt(llama)} tok/s | ${fmt(100 * scoring / llama)}% | ${before}, ${load()} |`);
            }
        }
        // Each at its best settings, not only at nemoreward's: llama-bench and node-llama-cpp alone (engine built
        // here, evaluation time only) at batch 512 and 2048 (node-llama-cpp ties n_ubatch to it), flash attention off and on.
        process.stdout.write("\n| same rows, best settings | batch 512 | batch 2048 | batch 512, flash attention | batch 2048, flash attention |\n|---|---|---|---|---|\n");
        const settings = [["512", "0"], ["2048", "0"], ["512", "1"], ["2048", "1"]] as const;
        const bench = (JSON.parse(run([llamaBench, "-m", modelPath, "-p", "2048", "-n", "0", "-t", String(threads), "-ub", "512,2048",
            "-fa", "0,1", "-r", String(reps + 1), "-o", "json"]).stdout) as { n_ubatch: number; flash_attn: boolean | number; avg_ts: number }[]);
        const llamaAt = ([batch, flash]: readonly [string, string]) =>
            bench.find((b) => b.n_ubatch === Number(batch) && Number(b.flash_attn) === Number(flash))?.avg_ts ?? NaN;
        const aloneAt = ([batch, flash]: readonly [string, string]) => Math.max(...Array.from({ length: reps + 1 }, () => {
            const r = JSON.parse(run([...engine(`${dir}/pp2048.prompts.json`), batch, flash]).stdout) as { tokens: number; seconds: number };
            return r.tokens / r.seconds;
        }));
        rows.push(`| llama-bench pp2048 | ${settings.map((s) => `${fmt(llamaAt(s))} tok/s`).join(" | ")} |`);
        rows.push(`| node-llama-cpp alone (engine built here) | ${settings.map((s) => `${fmt(aloneAt(s))} tok/s`).join(" | ")} |`);
    }
}

// Parquet in and out, and memory on a large Parquet file (bench/parquet.ts).
if (wanted("parquet")) await import("./parquet.js");
if (wanted("filter")) await import("./filter.js");

// Serving: nemoreward serve under autocannon on loopback, score --server against score, memory over 100k requests (bench/serve.ts).
if (wanted("serve")) for (const line of await (await import("./serve.js")).serveCase(quick, threads, modelPath)) rows.push(line);

// Start-up: the commands that load no model must not pay for loading one (node-llama-cpp is imported only to run
// the model). Whole processes, the supervisor and its child, against a bare `node`.
if (wanted("startup")) {
    const parts = [0, 1].map((k) => {
        const path = `${dir}/startup-part-${k}.jsonl`;
        writeFileSync(path, Array.from({ length: 500 }, (_, i) => `{"id":${2 * i + k},"reward":1.5}\n`).join(""));
        return path;
    });
    const cases: [string, string[]][] = [
        ["node -e 0 (bare Node.js, for comparison)", ["node", "-e", "0"]],
        ["nemoreward --version", ["node", "bin/nemoreward.js", "--version"]],
        ["nemoreward score --help", ["node", "bin/nemoreward.js", "score", "--help"]],
        ["nemoreward merge (2 parts of 500 rows)", ["node", "bin/nemoreward.js", "merge", `${dir}/startup-merged.jsonl`, ...parts, "-q"]],
    ];
    process.stdout.write("\n| start-up, whole process | median of 9 | best |\n|---|---|---|\n");
    for (const [name, args] of cases) {
        const times = Array.from({ length: 9 }, () => run(args).seconds).sort((a, b) => a - b);
        rows.push(`| ${name} | ${fmt(1000 * times[4]!)} ms | ${fmt(1000 * times[0]!)} ms |`);
    }
}
