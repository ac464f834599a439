import { spawn } from "node:child_process";
import { accessSync, constants, readdirSync, statSync } from "node:fs";
import { delimiter, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { NemoError, exitCodes } from "../errors.js";
import type { Log } from "../log.js";

/** Where node-llama-cpp keeps its local builds; it loads one from here before its prebuilt binaries. */
export function localBuildsDirectory(): string {
    return fileURLToPath(new URL("../llama/localBuilds", import.meta.resolve("node-llama-cpp")));
}

/**
 * Runs node-llama-cpp's own command line (the copy nemoreward depends on, so the build matches the version it loads)
 * with `args`; each chunk of its output goes to `output`. Resolves to its exit status; `signal` stops it and
 * everything it started.
 */
export type NodeLlamaCppCli = (args: string[], output: (text: string) => void, signal?: AbortSignal) => Promise<number>;

export const runNodeLlamaCppCli: NodeLlamaCppCli = (args, output, signal) => new Promise((resolve, reject) => {
    const cli = join(dirname(fileURLToPath(import.meta.resolve("node-llama-cpp"))), "cli", "cli.js");
    // its own process group, so that stopping it stops the cmake and compilers it runs as well; no colours in a log
    const child = spawn(process.execPath, [cli, ...args], {
        stdio: ["ignore", "pipe", "pipe"], detached: true, env: { ...process.env, FORCE_COLOR: "0" },
    });
    const stop = () => { try { process.kill(-child.pid!, "SIGTERM"); } catch { /* already gone */ } };
    signal?.addEventListener("abort", stop, { once: true });
    child.stdout.setEncoding("utf8").on("data", output);
    child.stderr.setEncoding("utf8").on("data", output);
    child.on("error", reject);
    child.on("close", (code) => {
        signal?.removeEventListener("abort", stop);
        resolve(signal?.aborted ? exitCodes.interrupted : code ?? exitCodes.failure);
    });
});

/** The lines of the build's output kept to show when it fails. */
const failureContext = 60;

/**
 * Compiles the CPU engine from the llama.cpp source bundled with node-llama-cpp, for this machine's CPU and
 * compiler (offline, from the bundled git release). node-llama-cpp loads a local build before its prebuilt
 * binaries, so every later run uses it. The prebuilt CPU libraries are compiled by an older GCC that spills the
 * f16 matrix-multiply accumulators to the stack: on a Zen 5 the same llama-bench ran pp2048 at 1,272 tok/s against
 * 2,169 with a native build (README, Performance).
 *
 * The compiler's output (thousands of lines) is shown with `verbose` only; otherwise the build's steps are reported
 * every tenth, and the last lines of the output when it fails.
 */
export async function buildCpuEngine(log: Log, { verbose = false, signal, cli = runNodeLlamaCppCli }:
    { verbose?: boolean; signal?: AbortSignal; cli?: NodeLlamaCppCli } = {}): Promise<void> {
    // node-llama-cpp would download cmake when it is missing: nemoreward promises a build without downloads
    if (findExecutable("cmake") === undefined)
        throw new NemoError("building the CPU engine needs cmake and a C++ compiler: cmake is not on PATH", exitCodes.failure);
    let tail: string[] = [];
    let reported = 0;
    const output = (text: string) => {
        if (verbose) log.stderr.write(text);
        tail = [...tail, ...text.split(/\r?\n|\r/).filter((line) => line.trim() !== "")].slice(-failureContext);
        // ninja's progress, "[47/153] Building CXX object ..."
        for (const [, done, total] of text.matchAll(/\[(\d+)\/(\d+)\]/g)) {
            const tenth = Math.floor((10 * Number(done)) / Number(total));
            if (!verbose && tenth > reported) log.info(`build: ${done} of ${total} steps`);
            reported = Math.max(reported, tenth);
        }
    };
    log.info(`building the CPU engine for this machine (5-8 minutes on 2 cores${verbose ? "" : "; --verbose shows the compiler's output"})`);
    const status = await cli(["source", "download", "--gpu", "false", "--noUsageExample"], output, signal);
    if (status === exitCodes.interrupted) throw new NemoError("the build was interrupted; runs use the prebuilt engine until a build completes", status);
    if (status !== 0) {
        if (!verbose) log.stderr.write(`${tail.join("\n")}\n`);
        throw new NemoError(`building the CPU engine failed (exit ${status}); it needs cmake and a C++ compiler (the build's last lines are above)`, exitCodes.failure);
    }
}

/** Deletes the local builds: runs use node-llama-cpp's prebuilt binaries again. Resolves to whether there was one. */
export async function removeLocalBuilds(cli: NodeLlamaCppCli = runNodeLlamaCppCli, directory = localBuildsDirectory()): Promise<boolean> {
    if (!entries(directory).some((name) => !name.endsWith(".lock"))) return false;
    const output: string[] = [];
    const status = await cli(["source", "clear", "--type", "builds"], (text) => output.push(text));
    if (status !== 0) throw new NemoError(`removing the local build failed (exit ${status}): ${output.join("").trim()}`, exitCodes.failure);
    return true;
}

/**
 * Whether a build is being made now: node-llama-cpp then makes every run wait, without a word, until it is done.
 * Its lock is a folder whose time it renews every 5 seconds and which it counts as stale after 10.
 */
export function buildInProgress(directory = localBuildsDirectory()): boolean {
    return entries(directory).some((name) => name.endsWith(".lock") && Date.now() - statSync(join(directory, name)).mtimeMs < 10_000);
}

/** The names in a folder; none when it does not exist. */
function entries(directory: string): string[] {
    try {
        return readdirSync(directory);
    } catch {
        return [];
    }
}

function findExecutable(name: string): string | undefined {
    for (const dir of (process.env["PATH"] ?? "").split(delimiter).filter(Boolean))
        for (const file of [name, `${name}.exe`])
            try {
                accessSync(join(dir, file), constants.X_OK);
                return join(dir, file);
            } catch {
                // not in this folder
            }
    return undefined;
}
