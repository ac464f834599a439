import { mkdirSync, mkdtempSync, utimesSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, describe, expect, it } from "vitest";
import { buildCpuEngine, buildInProgress, removeLocalBuilds, type NodeLlamaCppCli } from "../../src/engine/localBuild.js";
import { exitCodes } from "../../src/errors.js";
import { createLog } from "../../src/log.js";
import { runInProcess } from "../helpers.js";

// The real build takes minutes and replaces the engine every other test uses: `npm run bench` runs it. Here: what
// nemoreward asks of node-llama-cpp's command line, and what it makes of the answer.
function fakeCli(status: number, output: string[] = ["compiler output\n"]) {
    const calls: string[][] = [];
    const cli: NodeLlamaCppCli = async (args, write) => { calls.push(args); output.forEach(write); return status; };
    return { calls, cli };
}

function captureLog() {
    const stderr = new PassThrough();
    let text = "";
    stderr.on("data", (chunk: Buffer) => { text += chunk.toString(); });
    return { log: createLog(stderr), text: () => text };
}

const steps = Array.from({ length: 153 }, (_, i) => `[${i + 1}/153] Building CXX object unit_${i}.o\nwarning: maybe-uninitialized\n`);
const path = process.env["PATH"];
afterEach(() => { process.env["PATH"] = path; });

describe("nemoreward build", () => {
    it("compiles the bundled llama.cpp source for the CPU only, and reports its steps every tenth, not the compiler's output", async () => {
        const { calls, cli } = fakeCli(0, steps);
        const { log, text } = captureLog();
        await buildCpuEngine(log, { cli });
        expect(calls).toEqual([["source", "download", "--gpu", "false", "--noUsageExample"]]);
        const reported = text().match(/build: \d+ of 153 steps/g);
        expect(reported).toHaveLength(10);
        expect(reported!.at(-1)).toBe("build: 153 of 153 steps");
        expect(text()).not.toMatch(/maybe-uninitialized|Building CXX/);
    });

    it("--verbose passes the compiler's output through", async () => {
        const { log, text } = captureLog();
        await buildCpuEngine(log, { verbose: true, cli: fakeCli(0, steps).cli });
        expect(text().match(/maybe-uninitialized/g)).toHaveLength(153);
    });

    it("fails with exit 1 and the build's last lines when the compiler fails; 130 when interrupted", async () => {
        const { log, text } = captureLog();
        await expect(buildCpuEngine(log, { cli: fakeCli(1, [...steps.slice(0, 5), "error: no such compiler\n"]).cli })).rejects.toMatchObject({
            exitCode: exitCodes.failure, message: expect.stringMatching(/needs cmake and a C\+\+ compiler/),
        });
        expect(text()).toMatch(/\[5\/153\][\s\S]*error: no such compiler/);
        await expect(buildCpuEngine(log, { cli: fakeCli(exitCodes.interrupted).cli })).rejects.toMatchObject({
            exitCode: exitCodes.interrupted, message: expect.stringMatching(/prebuilt engine until a build completes/),
        });
    });

    it("stops before anything runs when cmake is missing (node-llama-cpp would download one)", async () => {
        process.env["PATH"] = mkdtempSync(join(tmpdir(), "no-cmake-"));
        const { calls, cli } = fakeCli(0);
        await expect(buildCpuEngine(captureLog().log, { cli })).rejects.toMatchObject({
            exitCode: exitCodes.failure, message: expect.stringMatching(/cmake is not on PATH/),
        });
        expect(calls).toEqual([]);
    });

    it("--remove clears the local builds, and says so only when there was one", async () => {
        const directory = mkdtempSync(join(tmpdir(), "local-builds-"));
        const { calls, cli } = fakeCli(0);
        expect(await removeLocalBuilds(cli, directory)).toBe(false);
        expect(calls).toEqual([]);
        mkdirSync(join(directory, "linux-x64"));
        expect(await removeLocalBuilds(cli, directory)).toBe(true);
        expect(calls).toEqual([["source", "clear", "--type", "builds"]]);
    });

    it("a build in progress is told from a lock left by a stopped one (node-llama-cpp's lock is stale after 10 s)", () => {
        const directory = mkdtempSync(join(tmpdir(), "local-builds-"));
        expect(buildInProgress(directory)).toBe(false);
        const lock = join(directory, "linux-x64.lock");
        mkdirSync(lock);
        expect(buildInProgress(directory)).toBe(true);
        const old = new Date(Date.now() - 30_000);
        utimesSync(lock, old, old);
        expect(buildInProgress(directory)).toBe(false);
    });

    it("is a command, with help that says what it does and costs", async () => {
        const { code, stdout } = await runInProcess(["build", "--help"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/Compile the CPU engine for this machine/);
        expect(stdout).toMatch(/--remove/);
        expect((await runInProcess(["--help"])).stdout).toMatch(/build \[options\]\s+compile the CPU engine for this machine/);
    });
});
