/**
 * The benchmark's serving case (`nemoreward serve` on loopback, autocannon as the clients): requests/s and p50/p99
 * latency at 1, 8 and 64 concurrent clients, one row per request; `score --server` against `score` on the same rows
 * (rows/s while scoring, from each run's summary line; goal >= 90%), and the output byte-identical; the server's
 * RSS over 100,000 requests (tiny model: the requests' journey, not the engine's work, is measured). Run alone with
 * `node dist/bench/serve.js` (BENCH_QUICK=1: shorter).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { conversation, fmt, run, text, writeCase } from "./harness.js";

const tinyModel = "fixtures/models/tiny-reward.gguf";

type Server = { url: string; child: ChildProcess; rssMiB: () => number; stop: () => Promise<void> };

/** `nemoreward serve` on a free port, once ready. */
function startServer(model: string, threads: number): Promise<Server> {
    const child = spawn(process.execPath, ["bin/nemoreward.js", "serve", "-m", model, "--port", "0", "--threads", String(threads), "-q",
        "--max-queue", "1000000"], { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    return new Promise((resolve, reject) => {
        child.stderr!.on("data", (c) => {
            stderr += c;
            const ready = /ready: .* at (http:\/\/\S+)/.exec(stderr);
            if (ready !== null) resolve({
                url: ready[1]!, child,
                // the run's process (the supervisor's child): the one that holds the model and the server
                rssMiB: () => rssOfTree(child.pid!),
                stop: () => new Promise((done) => {
                    child.once("exit", () => done());
                    child.kill("SIGTERM");
                }),
            });
        });
        child.once("exit", (code) => reject(new Error(`serve exited ${code}: ${stderr}`)));
    });
}

/** The largest RSS among a process and its children (the supervisor and the run), in MiB. */
function rssOfTree(pid: number): number {
    const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
    const rss = (p: number) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${p}/status`, "utf8"))?.[1] ?? 0) / 1024;
    return Math.max(rss(pid), ...children.map(rss));
}

const body = (prompt: string, response: string) => JSON.stringify({ records: [{ prompt, response }] });

async function load(url: string, connections: number, options: { duration?: number; amount?: number }) {
    const result = await autocannon({
        // a request waits behind the others' rows: 64 clients on a CPU wait seconds (autocannon's default gives up at 10)
        url: `${url}/v1/score`, method: "POST", connections, timeout: 120, ...options,
        headers: { "content-type": "application/json" }, body: body(`Question: ${text(40)}`, text(30)),
    });
    if (result.non2xx > 0 || result.errors > 0) throw new Error(`${result.non2xx} answers not 2xx, ${result.errors} errors at ${connections} clients`);
    return result;
}

/** rows/s while scoring, from a run's summary line (its last: progress lines come before it). */
const rowsPerSecond = (stderr: string) => Number([...stderr.matchAll(/\(([\d.]+) rows\/s/g)].at(-1)?.[1] ?? NaN);

/** The table lines of the serving case. */
export async function serveCase(quick: boolean, threads: number, model: string): Promise<string[]> {
    const lines: string[] = [];
    // the bench's model: clients at 1, 8, 64; score --server against score
    {
        const server = await startServer(model, threads);
        try {
            const seconds = quick ? 5 : 15;
            for (const connections of [1, 8, 64]) {
                const result = await load(server.url, connections, { duration: seconds });
                lines.push(`| serve, ${connections} client${connections === 1 ? "" : "s"}, one row a request (${seconds} s) | ${fmt(result.requests.average, 1)} req/s ` +
                    `| p50 ${fmt(result.latency.p50)} ms, p99 ${fmt(result.latency.p99)} ms | | ${fmt(server.rssMiB())} MiB |`);
            }
            const n = quick ? 100 : 400;
            const { jsonl } = writeCase("serve", Array.from({ length: n }, () => conversation(text(40), text(30))));
            // alternating, each its best of two: a busy neighbour on a shared machine hurts neither alone
            const runs = [0, 1].map(() => ({
                remote: run(["node", "bin/nemoreward.js", "score", jsonl, "--server", server.url]),
                local: run(["node", "bin/nemoreward.js", "score", jsonl, "-m", model, "--threads", String(threads)]),
            }));
            const fastest = (which: "remote" | "local") => runs.map((r) => r[which]).reduce((a, b) => (rowsPerSecond(b.stderr) > rowsPerSecond(a.stderr) ? b : a));
            const local = fastest("local"), remote = fastest("remote");
            if (remote.stdout !== local.stdout) throw new Error("score --server wrote other bytes than score");
            lines.push(`| score --server vs score, ${n} tiny rows, best of 2 (rows/s while scoring; whole process) | ${fmt(rowsPerSecond(remote.stderr), 1)} rows/s; ${fmt(remote.seconds, 1)} s ` +
                `| ${fmt(rowsPerSecond(local.stderr), 1)} rows/s; ${fmt(local.seconds, 1)} s (load included) | ${fmt(100 * rowsPerSecond(remote.stderr) / rowsPerSecond(local.stderr))}% (byte-identical) | |`);
        } finally {
            await server.stop();
        }
    }
    // memory: the tiny model's server over 100,000 requests of 64 clients
    {
        const server = await startServer(tinyModel, threads);
        try {
            const total = quick ? 20_000 : 100_000, first = total / 10;
            await load(server.url, 64, { amount: first });
            const early = server.rssMiB();
            const started = performance.now();
            await load(server.url, 64, { amount: total - first });
            const late = server.rssMiB();
            lines.push(`| serve memory (tiny model, 64 clients): RSS after ${first} requests vs after ${total} | ${fmt(early)} MiB vs ${fmt(late)} MiB (${fmt(late / early, 2)}×) ` +
                `| ${fmt((total - first) / ((performance.now() - started) / 1000))} req/s | | ${fmt(late)} MiB |`);
        } finally {
            await server.stop();
        }
    }
    return lines;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
    const { existsSync } = await import("node:fs");
    const { writeModel } = await import("../fixtures/makeModel.js");
    const { availableCores } = await import("../src/engine/availableCores.js");
    const midPath = "bench/models/mid-h512-l8-f16.gguf";
    if (!existsSync(midPath)) writeModel(midPath, { name: "nemoreward-bench-mid", hidden: 512, layers: 8, heads: 8, kvHeads: 2, ffn: 1536, contextLength: 8192, weightType: "f16", seed: 7 });
    process.stdout.write("| case | result | latency / reference | ratio | server RSS |\n|---|---|---|---|---|\n");
    for (const line of await serveCase(process.env["BENCH_QUICK"] === "1", availableCores(), midPath)) process.stdout.write(`${line}\n`);
}
