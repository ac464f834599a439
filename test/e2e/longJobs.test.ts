import { execFileSync, spawn, type ChildProcess } from "node:child_process";
import { open, writeFile } from "node:fs/promises";
import { gzipSync } from "node:zlib";
import { closeSync, constants, existsSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { demoConversations, repoRoot, runBuiltCli, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-long-"));
const cli = `${repoRoot}bin/nemoreward.js`;
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
const demo = readFileSync(demoConversations, "utf8").split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
let reference: ReferenceModel;

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
});

describe("memory does not grow with the number of rows", () => {
    it("streams 200,000 rows through a 48 MB heap: every row out, in order, the scored ones matching the reference", async () => {
        // Rows without a conversation are cheap (no engine work) and still travel the whole path: read, process,
        // write. Each carries 400 bytes, so a leak of even a tenth of a row each would pass 48 MB long before the end.
        const rows = 200_000, scoredEvery = 20_000;
        const input = join(tmp, "many.jsonl");
        const fd = openSync(input, "w");
        const filler = "x".repeat(400);
        let chunk = "";
        for (let i = 0; i < rows; i++) {
            const demoRow = demo[(i / scoredEvery) % demo.length]!;
            chunk += JSON.stringify(i % scoredEvery === 0 ? { id: i, messages: demoRow.messages } : { id: i, x: filler }) + "\n";
            if (chunk.length > 1 << 20) {
                writeSync(fd, chunk);
                chunk = "";
            }
        }
        writeSync(fd, chunk);
        closeSync(fd);

        const stdin = openSync(input, "r");
        const child = spawn(process.execPath, ["--max-old-space-size=48", cli, "score", "-", "-m", tinyModel, "--threads", "1", "--precise"],
            { stdio: [stdin, "pipe", "pipe"] });
        closeSync(stdin);
        let stderrTail = "";
        child.stderr.on("data", (c: Buffer) => (stderrTail = (stderrTail + c.toString()).slice(-2000)));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        let count = 0, outOfOrder = 0;
        const scored: { id: number; reward: unknown }[] = [];
        for await (const line of createInterface({ input: child.stdout })) {
            const row = JSON.parse(line) as { id: number; reward: unknown; error?: string };
            if (row.id !== count) outOfOrder++;
            if (row.id % scoredEvery === 0) scored.push(row);
            else if (row.reward !== null || typeof row.error !== "string") outOfOrder++;
            count++;
        }
        expect(await exited, stderrTail).toBe(3); // finished, some rows not scored
        expect(count).toBe(rows);
        expect(outOfOrder).toBe(0);
        expect(stderrTail).toMatch(new RegExp(`scored ${rows / scoredEvery} of ${rows} rows \\(${rows - rows / scoredEvery} not\\)`));
        expect(scored).toHaveLength(rows / scoredEvery);
        for (const { id, reward } of scored) {
            const messages = demo[(id / scoredEvery) % demo.length]!.messages;
            expect(Math.abs((reward as number) - reference.logits(reference.tokenize(template.render(messages)), [0])[0]!)).toBeLessThan(1e-4);
        }
    });
});

/** Resolves with the exit status, or with a note when the process is still running after `seconds`. */
function exitWithin(child: ChildProcess, seconds: number): Promise<number | string | null> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(`still running ${seconds} s later`), seconds * 1000);
        child.on("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
        });
    });
}

/** Resolves once `test` holds for the text so far of `stream`, or after `seconds` anyway. */
function waitForText(stream: NodeJS.ReadableStream, test: (text: string) => boolean, seconds: number): Promise<void> {
    return new Promise((resolve) => {
        let text = "";
        const timer = setTimeout(resolve, seconds * 1000);
        stream.on("data", (c: Buffer) => {
            text += c.toString();
            if (test(text)) {
                clearTimeout(timer);
                resolve();
            }
        });
    });
}

describe("signals", () => {
    it("a second SIGTERM ends the run at once, even while a row blocks the event loop", async () => {
        // A chat template that spins for minutes on one row stands for any long synchronous step (a huge row being
        // tokenized): the run's event loop is blocked and no signal handler in it can run.
        const template = join(tmp, "slow.jinja");
        writeFileSync(template, "{{ bos_token }}{% for m in messages %}{% if m.content == 'slow' %}{% for i in range(100000000) %}" +
            "{% endfor %}{% endif %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
        const input = join(tmp, "slow.jsonl");
        writeFileSync(input, JSON.stringify({ messages: [{ role: "user", content: "slow" }, { role: "assistant", content: "ok" }] }) + "\n");
        const child = spawn(process.execPath, [cli, "score", input, "-m", tinyModel, "--threads", "1", "--chat-template", template]);
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        try {
            // the engine line comes just before the first row is read; a second later that row holds the loop
            await waitForText(child.stderr, (text) => /sequence/.test(text), 60);
            await new Promise((resolve) => setTimeout(resolve, 1000));
            child.kill("SIGTERM");
            await waitForText(child.stderr, (text) => /stopping/.test(text), 3); // heard (the old code said nothing)
            child.kill("SIGTERM");
            expect(await exitWithin(child, 10), stderr).toBe(130);
            expect(stderr).toMatch(/signal again to stop at once/);
        } finally {
            child.kill("SIGKILL");
        }
    });

    it("SIGHUP (a closed terminal) is a SIGTERM: the rows in flight are written, the shard record closed, exit 130", async () => {
        const input = join(tmp, "hup.jsonl");
        writeFileSync(input, Array.from({ length: 3000 }, (_, i) => JSON.stringify({ ...demo[i % demo.length], id: i })).join("\n") + "\n");
        const out = join(tmp, "hup-part-0.jsonl");
        const child = spawn(process.execPath, [cli, "score", input, "-m", tinyModel, "--threads", "1", "--shard", "0/2", "-o", out], { stdio: "ignore" });
        const exited = exitWithin(child, 60);
        await new Promise<void>((resolve) => {
            const timer = setInterval(() => {
                if (existsSync(out) && statSync(out).size > 2000) {
                    clearInterval(timer);
                    resolve();
                }
            }, 5);
        });
        child.kill("SIGHUP");
        expect(await exited).toBe(130);
        const lines = readFileSync(out, "utf8").split("\n");
        expect(lines.pop()).toBe(""); // no half-written row
        expect(lines.length).toBeLessThan(1500);
        expect(lines.map((line) => (JSON.parse(line) as { id: number }).id)).toEqual(lines.map((_, i) => 2 * i));
        expect(JSON.parse(readFileSync(`${out}.shard`, "utf8"))).toEqual({ index: 0, count: 2, rows: lines.length, complete: false });
    });
});

describe("merge", () => {
    it("the first Ctrl-C stops a merge: exit 130, and no output, whole or partial", async () => {
        const shards = [0, 1].map((k) => {
            const path = join(tmp, `big-part-${k}.jsonl`);
            const fd = openSync(path, "w");
            for (let i = k; i < 600_000; i += 2 * 10_000)
                writeSync(fd, Array.from({ length: 10_000 }, (_, j) => `{"id":${i + 2 * j},"reward":null}\n`).join(""));
            closeSync(fd);
            return path;
        });
        const out = join(tmp, "big-merged.jsonl");
        const child = spawn(process.execPath, [cli, "merge", out, ...shards]);
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const exited = exitWithin(child, 60);
        // the warning comes once the shards are ordered, just before the merge begins
        await waitForText(child.stderr, (text) => /taking them in the order given/.test(text), 30);
        child.kill("SIGINT");
        expect(await exited, stderr).toBe(130);
        expect(stderr).toMatch(/interrupted/);
        expect(existsSync(out)).toBe(false);
        expect(existsSync(`${out}.partial`)).toBe(false);
    });
});

describe("pipes and devices as inputs", () => {
    it("score <(gzip -dc FILE.gz), a named pipe and /dev/null: read as streams, progress without a total", async () => {
        const plain = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--threads", "1"]);
        expect(plain.code).toBe(0);
        const gz = join(tmp, "demo.jsonl.gz");
        writeFileSync(gz, gzipSync(readFileSync(demoConversations)));
        const substituted = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn("bash", ["-c", `exec "$0" "$1" score <(gzip -dc "$2") -m "$3" --threads 1`, process.execPath, cli, gz, tinyModel]);
            let stdout = "", stderr = "";
            child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
            child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
            child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
        expect(substituted.code, substituted.stderr).toBe(0);
        expect(substituted.stdout).toBe(plain.stdout);
        expect(substituted.stderr).toMatch(/scored 5 rows/); // not "of N": a pipe is read once, and not counted first

        // a named pipe keeps the format its name gives
        const fifo = join(tmp, "demo.csv");
        execFileSync("mkfifo", [fifo]);
        const csv = "prompt,response\nWhat is 1+1?,1+1=2\nWhat is 1+1?,1+1=3\n";
        const writing = writeFile(fifo, csv).catch(() => undefined);
        const piped = await runBuiltCli(["score", fifo, "-m", tinyModel, "--threads", "1"]);
        closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)); // frees the writer, had the run not read
        await writing;
        expect(piped.code, piped.stderr).toBe(0);
        const fromFile = join(tmp, "demo-file.csv");
        writeFileSync(fromFile, csv);
        expect(piped.stdout).toBe((await runBuiltCli(["score", fromFile, "-m", tinyModel, "--threads", "1"])).stdout);

        const empty = await runBuiltCli(["score", "/dev/null", "-m", tinyModel, "--threads", "1"]);
        expect(empty.code, empty.stderr).toBe(0);
        expect(empty.stdout).toBe("");
        expect(empty.stderr).toMatch(/scored 0 rows/);
        // a directory without data files is still no input (one with data files is read: test/e2e/parquet.test.ts)
        const dir = await runBuiltCli(["score", mkdtempSync(join(tmp, "empty-")), "-m", tinyModel, "--threads", "1"]);
        expect(dir.code).toBe(2);
        expect(dir.stderr).toMatch(/holds no \.jsonl, \.ndjson, \.json, \.csv, \.tsv \(optionally \.gz\) or \.parquet file/);
    });
});

describe("pipes and signals", () => {
    it("SIGTERM while a named pipe's writer is silent: the run ends with exit 130, not when the writer closes", async () => {
        const fifo = join(tmp, "silent.jsonl");
        execFileSync("mkfifo", [fifo]);
        const child = spawn(process.execPath, [cli, "score", fifo, "-m", tinyModel, "--threads", "1"], { stdio: ["ignore", "pipe", "ignore"] });
        const writer = await open(fifo, "w"); // once the run has opened the pipe
        try {
            await writer.write(`${JSON.stringify(demo[0])}\n`); // and then nothing more, the pipe kept open
            await waitForText(child.stdout, (text) => text.endsWith("\n"), 60);
            child.kill("SIGTERM");
            expect(await exitWithin(child, 10)).toBe(130);
        } finally {
            child.kill("SIGKILL");
            await writer.close();
        }
    });
});
