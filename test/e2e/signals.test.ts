import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { open } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, dataset, demoConversations, exitWithin, parseJsonl, repoRoot, tinyModel, waitForText } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-signals-"));
const demo = readFileSync(demoConversations, "utf8").split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
const input = join(tmp, "input.jsonl");
writeFileSync(input, dataset(600));

describe("signals and pipes", () => {
    it("writes each row as soon as it is scored; SIGTERM while waiting for input stops at once with exit 130", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-", "-m", tinyModel]);
        let stdout = "", stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        child.stdin.write(readFileSync(demoConversations, "utf8").split("\n")[0] + "\n"); // and the input stays open
        await new Promise<void>((resolve) => child.stdout.on("data", (c) => {
            stdout += c;
            if (stdout.endsWith("\n")) resolve();
        }));
        expect(parseJsonl(stdout)).toHaveLength(1);
        child.kill("SIGTERM");
        const code = await Promise.race([
            new Promise((resolve) => child.on("exit", resolve)),
            new Promise((resolve) => setTimeout(() => resolve("still running 10 s after SIGTERM"), 10_000)),
        ]);
        child.kill("SIGKILL");
        expect(code).toBe(130);
        expect(stderr).toMatch(/interrupted/);
    });

    it.each(["score --help", "render --help", "--help"])("a reader gone before the help is written (%s | head): exit 141, no stack trace", async (command) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...command.split(" ")]);
        child.stdout.destroy(); // closed before the CLI has started, so that its first write meets a closed pipe
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(stderr).not.toMatch(/EPIPE|at /);
        expect(code).toBe(141);
    });

    it("the reader closing the output early: a note on stderr and exit 141", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", input, "-m", tinyModel]);
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        child.stdout.once("data", () => child.stdout.destroy());
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(code).toBe(141);
        expect(stderr).toMatch(/closed by its reader/);
        expect(stderr).toMatch(/scored \d+ of 600 rows/);
    });

    it("SIGINT: stops reading, finishes the rows in flight, flushes, prints the summary, exits 130", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", input, "-m", tinyModel]);
        let stdout = "", stderr = "";
        child.stdout.on("data", (c) => {
            stdout += c;
            if (stdout.split("\n").length > 20 && !child.killed) child.kill("SIGINT");
        });
        child.stderr.on("data", (c) => (stderr += c));
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(code).toBe(130);
        const rows = parseJsonl(stdout);
        expect(rows.length).toBeGreaterThan(19);
        expect(rows.length).toBeLessThan(600);
        expect(rows.map((r) => r.id)).toEqual(rows.map((_, i) => i));
        expect(stderr).toMatch(/interrupted/);
        expect(stderr).toMatch(/scored \d+ of 600 rows/);
    });
});

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
