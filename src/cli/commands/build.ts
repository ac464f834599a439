import { Command } from "commander";
import { buildCpuEngine, removeLocalBuilds } from "../../engine/localBuild.js";
import type { CliIo } from "../../io.js";

export function buildCommand(io: CliIo): Command {
    return new Command("build")
        .summary("compile the CPU engine for this machine (faster than the prebuilt one; takes minutes)")
        .description("Compile the CPU engine for this machine: faster than the prebuilt one, with the same rewards.")
        .option("--remove", "delete the local build: runs use the prebuilt engine again")
        .option("--verbose", "show the compiler's output (thousands of lines), not only the build's steps")
        .addHelpText("after", `
Compiles node-llama-cpp's bundled llama.cpp (no download) with this machine's compiler and CPU features, CPU only.
It needs cmake and a C++ compiler, and took 5 to 8 minutes on 2 cores. Every later run loads it instead of the
prebuilt binaries, which ran prompts at 60% of a native build's speed on the CPU (README, Performance); rewards are
unchanged. The build goes into nemoreward's own node_modules: a global install may need the rights npm install -g had.
score's first line on stderr says which engine a run uses.`)
        .action(async (flags: { remove?: boolean; verbose?: boolean }) => {
            const { createLog } = await import("../../log.js");
            const log = createLog(io.stderr);
            if (flags.remove) {
                log.info(await removeLocalBuilds() ? "removed the local build; runs use the prebuilt engine"
                    : "there is no local build; runs use the prebuilt engine");
                return;
            }
            const started = Date.now();
            await buildCpuEngine(log, { verbose: flags.verbose, signal: io.signal });
            log.info(`built the CPU engine for this machine in ${Math.round((Date.now() - started) / 1000)} s; runs use it from now on`);
        });
}
