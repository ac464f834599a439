import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readlinkSync, utimesSync, writeFileSync } from "node:fs";
import { hostname, tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { takeLock } from "../../src/outputs/lock.js";
import { repoRoot } from "../helpers.js";

const dir = () => mkdtempSync(join(tmpdir(), "nemoreward-lock-"));
/** A pid that ran and is gone. */
const deadPid = () => spawnSync(process.execPath, ["-e", "0"]).pid;
/** When a process started, from /proc (clock ticks since boot): the test's own reading of what the lock compares. */
const startOf = (pid: number) => Number(readFileSync(`/proc/${pid}/stat`, "latin1").split(") ")[1]!.split(" ")[19]);
const linux = existsSync("/proc/self/stat");

/**
 * Runs that each try to take `lockPath` at once (processes of the built lock module, loaded first, then told to go
 * together); each says "took" or "refused", and holds what it took until all have spoken. Returns what they said.
 */
async function contenders(lockPath: string, count: number): Promise<string[]> {
    const module = `${repoRoot}dist/src/outputs/lock.js`;
    const code = `const { takeLock } = await import(${JSON.stringify(module)});
        process.stdout.write("ready\\n");
        process.stdin.once("data", () => {
            let said = "took";
            try { takeLock(${JSON.stringify(lockPath.slice(0, -".lock".length))}, "out"); } catch { said = "refused"; }
            process.stdout.write(said + "\\n");
            process.stdin.on("end", () => process.exit(0));
        });`;
    const children = Array.from({ length: count }, () => spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["pipe", "pipe", "inherit"] }));
    const lines = children.map((child) => {
        const waiting: ((line: string) => void)[] = [];
        let out = "";
        child.stdout!.on("data", (c) => {
            out += c;
            for (let newline = out.indexOf("\n"); newline !== -1; newline = out.indexOf("\n")) {
                waiting.shift()?.(out.slice(0, newline));
                out = out.slice(newline + 1);
            }
        });
        child.on("close", () => waiting.splice(0).forEach((resolve) => resolve("exited")));
        return () => new Promise<string>((resolve) => waiting.push(resolve));
    });
    expect(await Promise.all(lines.map((line) => line()))).toEqual(children.map(() => "ready"));
    const said = lines.map((line) => line());
    for (const child of children) child.stdin!.write("go\n");
    const result = await Promise.all(said);
    await Promise.all(children.map((child) => new Promise((resolve) => {
        child.on("close", resolve);
        child.stdin!.end();
    })));
    return result;
}

describe("one run at a time holds a file's lock", () => {
    it("a stale lock (its run gone) found by six runs at once is taken by exactly one of them, 10 times over", { timeout: 120_000 }, async () => {
        const folder = dir();
        const lockPath = join(folder, "out.jsonl.lock");
        for (let round = 0; round < 10; round++) {
            writeFileSync(lockPath, `${JSON.stringify({ pid: deadPid(), host: hostname() })}\n`);
            const said = await contenders(lockPath, 6);
            expect(said.filter((s) => s === "took"), `round ${round}: ${said.join(", ")}`).toHaveLength(1);
            expect(said.filter((s) => s === "refused")).toHaveLength(5);
        }
    });

    it("a live run's lock is refused at once, naming its pid; released, it is free", () => {
        const folder = dir();
        const real = join(folder, "out.jsonl");
        writeFileSync(`${real}.lock`, `${JSON.stringify({ pid: process.ppid, ...(linux ? { started: startOf(process.ppid) } : {}), host: hostname() })}\n`);
        expect(() => takeLock(real, "out.jsonl")).toThrow(`out.jsonl is being written by another run (pid ${process.ppid} on ${hostname()})`);
        const release = takeLock(join(folder, "other.jsonl"), "other.jsonl");
        expect(() => takeLock(join(folder, "other.jsonl"), "other.jsonl")).toThrow(/is being written by another run/);
        release();
        takeLock(join(folder, "other.jsonl"), "other.jsonl")();
    });

    it.runIf(linux)("a lock from another pid namespace of this host (another container) is judged by its heartbeat, not by our pids", () => {
        const folder = dir();
        const real = join(folder, "out.jsonl");
        // a pid that does not run here, in a namespace that is not ours: the run may well be alive in its container
        const other = { pid: deadPid(), started: 1, host: hostname(), pids: "pid:[1]", token: "other" };
        writeFileSync(`${real}.lock`, `${JSON.stringify(other)}\n`);
        expect(() => takeLock(real, "out.jsonl")).toThrow(`out.jsonl is being written by another run (pid ${other.pid} on ${hostname()})`);
        // not marked alive for over 30 s: gone, taken over
        const old = new Date(Date.now() - 31_000);
        utimesSync(`${real}.lock`, old, old);
        const release = takeLock(real, "out.jsonl");
        expect((JSON.parse(readFileSync(`${real}.lock`, "utf8")) as { pids: string }).pids).toBe(readlinkSync("/proc/self/ns/pid"));
        release();
    });

    it.runIf(linux)("a lock naming a pid that now is another process (a restarted container gives pids anew) is taken over", () => {
        const folder = dir();
        const real = join(folder, "out.jsonl");
        // the pid of a live process (this test's parent), with another start: the run that wrote it is gone
        writeFileSync(`${real}.lock`, `${JSON.stringify({ pid: process.ppid, started: startOf(process.ppid) - 1, host: hostname(), token: "old" })}\n`);
        const release = takeLock(real, "out.jsonl");
        const lock = JSON.parse(readFileSync(`${real}.lock`, "utf8")) as { pid: number; started: number };
        expect([lock.pid, lock.started]).toEqual([process.pid, startOf(process.pid)]);
        release();
        expect(existsSync(`${real}.lock`)).toBe(false);
    });
});
