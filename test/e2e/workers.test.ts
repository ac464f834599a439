import { spawn } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { cli, dataset, newDir, repoRoot, runBuiltCli, tinyModel } from "../helpers.js";

/**
 * `--workers N`: the same path as `--gpus` (a worker process per device), on the CPU. Rewards do not depend on which
 * process scored a row, so every output must be byte for byte what one process writes.
 */
const folder = newDir("workers");
const input = join(folder, "input.jsonl");
const text = dataset(120);
writeFileSync(input, text);
const score = (args: string[], stdin?: string) => runBuiltCli(["score", "-m", tinyModel, "-q", ...args], stdin);

/** Waits until `get()` matches (polled; the bound only turns a hang into a failure). */
async function waitForText(get: () => string, pattern: RegExp): Promise<void> {
    for (let waited = 0; !pattern.test(get()); waited += 20) {
        if (waited > 120_000) throw new Error(`never matched ${pattern}: ${get().slice(-500)}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
    }
}

/** The worker processes under a process: those running the worker script among its descendants. */
function workersUnder(root: number): number[] {
    const parents = new Map<number, number>();
    for (const entry of readdirSync("/proc").filter((name) => /^\d+$/.test(name))) {
        try {
            const stat = readFileSync(`/proc/${entry}/stat`, "latin1");
            parents.set(Number(entry), Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]));
        } catch { /* gone */ }
    }
    const under = (pid: number): boolean => pid === root || (parents.has(pid) && pid > 1 && under(parents.get(pid)!));
    return [...parents.keys()].filter((pid) => {
        try {
            return under(parents.get(pid)!) && readFileSync(`/proc/${pid}/cmdline`, "latin1").includes("engine/worker.js");
        } catch {
            return false;
        }
    });
}

describe("--workers N", () => {
    it.each(["jsonl", "csv", "json", "parquet"])("2 workers × 1 thread write %s byte for byte as 1 process × 2 threads", async (format) => {
        const one = join(folder, `one.${format}`), two = join(folder, `two.${format}`);
        expect((await score([input, "--threads", "2", "-o", one])).code).toBe(0);
        const run = await score([input, "--workers", "2", "--threads", "1", "-o", two]);
        expect(run.code, run.stderr).toBe(0);
        expect(readFileSync(two)).toEqual(readFileSync(one));
    });

    it("with --shard, filters and --rejects, and --resume: the files one process writes", async () => {
        const cases: [string, string[]][] = [
            ["shard", ["--shard", "1/3"]],
            ["filters", ["--min-reward", "-1.9", "--top-k", "2"]],
        ];
        for (const [name, flags] of cases) {
            const outputs = (who: string) => [join(folder, `${name}-${who}.jsonl`), join(folder, `${name}-${who}-rejects.jsonl`)];
            const [oneOut, oneRejects] = outputs("one"), [twoOut, twoRejects] = outputs("two");
            const rejects = (file: string) => (name === "filters" ? ["--rejects", file] : []);
            expect((await score([input, ...flags, "-o", oneOut!, ...rejects(oneRejects!)])).code).toBe(0);
            expect((await score([input, ...flags, "-o", twoOut!, ...rejects(twoRejects!), "--workers", "2", "--threads", "1"])).code).toBe(0);
            expect(readFileSync(twoOut!, "utf8"), name).toBe(readFileSync(oneOut!, "utf8"));
            if (name === "filters") expect(readFileSync(twoRejects!, "utf8")).toBe(readFileSync(oneRejects!, "utf8"));
        }
        // a file one process began (the input's first 50 rows), continued by 2 workers
        const whole = join(folder, "resume-one.jsonl"), resumed = join(folder, "resume-two.jsonl");
        expect((await score([input, "-o", whole])).code).toBe(0);
        const first = join(folder, "first.jsonl");
        writeFileSync(first, text.split("\n").slice(0, 50).join("\n") + "\n");
        expect((await score([first, "-o", resumed])).code).toBe(0);
        // the same input, grown: the record checks the first 50 rows, the workers score the rest
        writeFileSync(first, text);
        const run = await score([first, "-o", resumed, "--resume", "--workers", "2", "--threads", "1"]);
        expect(run.code, run.stderr).toBe(0);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(whole, "utf8"));
    });

    it("a worker killed mid-run: its rows go to the other, and the output is one process's", async () => {
        const lines = text.trimEnd().split("\n");
        const expected = (await score([input])).stdout;
        const child = spawn(process.execPath, [cli, "score", "-", "-m", tinyModel, "--workers", "2", "--threads", "1"], { cwd: repoRoot });
        let stdout = "", stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
        child.stdin.write(`${lines.slice(0, 40).join("\n")}\n`);
        // both workers loaded (the engine line is printed once they are), some rows written
        await waitForText(() => stderr, /2 workers/);
        await waitForText(() => stdout, /"id":10,/);
        const workers = workersUnder(child.pid!);
        expect(workers).toHaveLength(2);
        process.kill(workers[0]!, "SIGKILL");
        await waitForText(() => stderr, /worker \d died \(SIGKILL\)/);
        child.stdin.end(`${lines.slice(40).join("\n")}\n`);
        expect(await exited, stderr).toBe(0);
        expect(stdout).toBe(expected);
        expect(stderr).toMatch(/worker \d died \(SIGKILL\): its \d+ rows? in flight go to the 1 left/);
    });

    it("the run killed (SIGKILL) while its workers start: no worker is left behind", async () => {
        // --input-format: the model loads without waiting for a first line of input (which it would read first, to refuse CSV)
        const child = spawn(process.execPath, [cli, "score", "-", "--input-format", "jsonl", "-m", tinyModel, "--workers", "2", "--threads", "1"], { cwd: repoRoot, stdio: ["pipe", "ignore", "ignore"] });
        let workers: number[] = [];
        for (let waited = 0; workers.length < 2; waited += 10) {
            if (waited > 120_000) throw new Error("the workers never started");
            await new Promise((resolve) => setTimeout(resolve, 10));
            workers = workersUnder(child.pid!);
        }
        // the run is the workers' parent (the process started is its supervisor)
        const stat = readFileSync(`/proc/${workers[0]}/stat`, "latin1");
        process.kill(Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]), "SIGKILL");
        const alive = () => workers.filter((pid) => {
            try {
                return !readFileSync(`/proc/${pid}/stat`, "latin1").slice(readFileSync(`/proc/${pid}/stat`, "latin1").lastIndexOf(")") + 2).startsWith("Z");
            } catch {
                return false;
            }
        });
        for (let waited = 0; alive().length > 0; waited += 20) {
            if (waited > 120_000) throw new Error(`workers left running: ${alive().join(", ")}`);
            await new Promise((resolve) => setTimeout(resolve, 20));
        }
        child.stdin.end();
    });

    it("every worker killed: exit 1 with one clear line, and --resume finishes the file to one process's bytes", async () => {
        const out = join(folder, "all-killed.jsonl");
        const lines = text.trimEnd().split("\n");
        const child = spawn(process.execPath, [cli, "score", "-", "-m", tinyModel, "--workers", "2", "--threads", "1", "-o", out], { cwd: repoRoot });
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        const exited = new Promise<number>((resolve) => child.on("close", (code) => resolve(code ?? -1)));
        child.stdin.write(`${lines.slice(0, 30).join("\n")}\n`);
        await waitForText(() => stderr, /2 workers/);
        await waitForText(() => { try { return readFileSync(out, "utf8"); } catch { return ""; } }, /"id":5,/);
        for (const pid of workersUnder(child.pid!)) process.kill(pid, "SIGKILL");
        child.stdin.end(`${lines.slice(30).join("\n")}\n`);
        expect(await exited).toBe(1);
        expect(stderr).toMatch(/nemoreward: error: every worker has died: nothing more can be scored \(resume the run with --resume\)/);
        const resume = await score([input, "-o", out, "--resume", "--workers", "2", "--threads", "1"]);
        expect(resume.code, resume.stderr).toBe(0);
        expect(readFileSync(out, "utf8")).toBe((await score([input])).stdout);
    });
});
