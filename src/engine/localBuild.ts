import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NemoError, exitCodes } from "../errors.js";

/**
 * Runs node-llama-cpp's own command line (the copy nemoreward depends on, so the build matches the version it loads)
 * with `args`; its output goes to `output`. Resolves to its exit status; `signal` stops it and everything it started.
 */
export type NodeLlamaCppCli = (args: string[], output: NodeJS.WritableStream, signal?: AbortSignal) => Promise<number>;

export const runNodeLlamaCppCli: NodeLlamaCppCli = (args, output, signal) => new Promise((resolve, reject) => {
    const cli = join(dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "cli", "cli.js");
    // its own process group, so that stopping it stops the cmake and compilers it runs as well
    const child = spawn(process.execPath, [cli, ...args], { stdio: ["ignore", "pipe", "pipe"], detached: true });
    const stop = () => { try { process.kill(-child.pid!, "SIGTERM"); } catch { /* already gone */ } };
    signal?.addEventListener("abort", stop, { once: true });
    // its progress is for people: both of its streams go to ours for people, so that stdout stays data only
    child.stdout.pipe(output, { end: false });
    child.stderr.pipe(output, { end: false });
    child.on("error", reject);
    child.on("close", (code) => {
        signal?.removeEventListener("abort", stop);
        resolve(signal?.aborted ? exitCodes.interrupted : code ?? exitCodes.failure);
    });
});

/**
 * Compiles the CPU engine from the llama.cpp source bundled with node-llama-cpp, for this machine's CPU and
 * compiler (offline, from the bundled git release). node-llama-cpp loads a local build before its prebuilt
 * binaries, so every later run uses it. The prebuilt CPU libraries are compiled by an older GCC that spills the
 * f16 matrix-multiply accumulators to the stack: on a Zen 5 the same llama-bench ran pp2048 at 1,272 tok/s against
 * 2,169 with a native build (README, Performance).
 */
export async function buildCpuEngine(output: NodeJS.WritableStream, signal?: AbortSignal, cli: NodeLlamaCppCli = runNodeLlamaCppCli): Promise<void> {
    const status = await cli(["source", "download", "--gpu", "false", "--noUsageExample"], output, signal);
    if (status === exitCodes.interrupted) throw new NemoError("the build was interrupted; runs use the prebuilt engine until a build completes", status);
    if (status !== 0)
        throw new NemoError(`building the CPU engine failed (exit ${status}); it needs cmake and a C++ compiler (see the output above)`, exitCodes.failure);
}

/** Deletes the local builds: runs use node-llama-cpp's prebuilt binaries again. */
export async function removeLocalBuilds(output: NodeJS.WritableStream, cli: NodeLlamaCppCli = runNodeLlamaCppCli): Promise<void> {
    const status = await cli(["source", "clear", "--type", "builds"], output);
    if (status !== 0) throw new NemoError(`removing the local build failed (exit ${status})`, exitCodes.failure);
}
