import { readFile } from "node:fs/promises";
import { Command, CommanderError } from "commander";
import { exitCodes, NemoError } from "../errors.js";
import { guardStderr, type CliIo } from "../io.js";
import { scoreCommand } from "./commands/score.js";
import { renderCommand } from "./commands/render.js";
import { infoCommand } from "./commands/info.js";
import { mergeCommand } from "./commands/merge.js";
import { evalCommand } from "./commands/eval.js";
import { pairsCommand } from "./commands/pairs.js";
import { filterCommand } from "./commands/filter.js";
import { pullCommand } from "./commands/pull.js";
import { buildCommand } from "./commands/build.js";
import { checkCommand } from "./commands/check.js";
import { serveCommand } from "./commands/serve.js";

/** Runs the command line and returns the exit status; the single place that turns errors into exit codes. */
export async function main(argv: string[], io: CliIo): Promise<number> {
    guardStderr(io.stderr);
    let exitCode: number = exitCodes.ok;
    const setExit = (code: number) => { exitCode = code; };
    const program = new Command("nemoreward")
        .description("Score LLM conversations with a reward model (Llama-3.1-Nemotron-70B-Reward GGUF).")
        .version(await packageVersion())
        .exitOverride()
        .configureOutput({
            writeOut: (text) => io.stdout.write(text),
            writeErr: (text) => io.stderr.write(text),
            // Commander's own usage errors ("error: unknown option ...") read like every other error of ours
            outputError: (text, write) => write(`nemoreward: ${text}`),
        })
        .addCommand(scoreCommand(io, setExit))
        .addCommand(renderCommand(io, setExit))
        .addCommand(evalCommand(io, setExit))
        .addCommand(pairsCommand(io, setExit))
        .addCommand(filterCommand(io, setExit))
        .addCommand(mergeCommand(io, setExit))
        .addCommand(checkCommand(io, setExit))
        .addCommand(serveCommand(io, setExit))
        .addCommand(infoCommand(io))
        .addCommand(pullCommand(io))
        .addCommand(buildCommand(io));
    for (const command of program.commands) command.exitOverride().configureOutput(program.configureOutput());
    try {
        await program.parseAsync(argv);
        return exitCode;
    } catch (error) {
        if (error instanceof CommanderError)
            return error.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
        const verbose = argv.includes("--verbose");
        const message = error instanceof Error ? error.message : String(error);
        io.stderr.write(`nemoreward: error: ${message}\n`);
        if (verbose && error instanceof Error && error.stack) io.stderr.write(`${error.stack}\n`);
        return error instanceof NemoError ? error.exitCode : exitCodes.failure;
    }
}

/** The version in the nearest package.json above this module (it runs from src/ in tests, dist/src/ when built). */
async function packageVersion(): Promise<string> {
    for (let dir = new URL(".", import.meta.url); dir.pathname !== "/"; dir = new URL("..", dir)) {
        try {
            return (JSON.parse(await readFile(new URL("package.json", dir), "utf8")) as { version: string }).version;
        } catch {
            // not here: look one folder up
        }
    }
    return "unknown";
}
