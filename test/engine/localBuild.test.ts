import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { buildCpuEngine, removeLocalBuilds, type NodeLlamaCppCli } from "../../src/engine/localBuild.js";
import { exitCodes } from "../../src/errors.js";
import { runInProcess } from "../helpers.js";

// The real build takes minutes and replaces the engine every other test uses: `npm run bench` runs it. Here: what
// nemoreward asks of node-llama-cpp's command line, and what it makes of the answer.
function fakeCli(status: number) {
    const calls: string[][] = [];
    const cli: NodeLlamaCppCli = async (args, output) => { calls.push(args); output.write("compiler output\n"); return status; };
    return { calls, cli };
}

describe("nemoreward build", () => {
    it("compiles the bundled llama.cpp source for the CPU only, without downloading", async () => {
        const { calls, cli } = fakeCli(0);
        await buildCpuEngine(new PassThrough(), undefined, cli);
        expect(calls).toEqual([["source", "download", "--gpu", "false", "--noUsageExample"]]);
    });

    it("fails with exit 1 and says what it needs when the compiler fails; 130 when interrupted", async () => {
        await expect(buildCpuEngine(new PassThrough(), undefined, fakeCli(1).cli)).rejects.toMatchObject({
            exitCode: exitCodes.failure, message: expect.stringMatching(/needs cmake and a C\+\+ compiler/),
        });
        await expect(buildCpuEngine(new PassThrough(), undefined, fakeCli(exitCodes.interrupted).cli)).rejects.toMatchObject({
            exitCode: exitCodes.interrupted, message: expect.stringMatching(/prebuilt engine until a build completes/),
        });
    });

    it("--remove clears the local builds only", async () => {
        const { calls, cli } = fakeCli(0);
        await removeLocalBuilds(new PassThrough(), cli);
        expect(calls).toEqual([["source", "clear", "--type", "builds"]]);
    });

    it("is a command, with help that says what it does and costs", async () => {
        const { code, stdout } = await runInProcess(["build", "--help"]);
        expect(code).toBe(0);
        expect(stdout).toMatch(/Compile the CPU engine for this machine/);
        expect(stdout).toMatch(/--remove/);
        expect((await runInProcess(["--help"])).stdout).toMatch(/build \[options\]\s+compile the CPU engine for this machine/);
    });
});
