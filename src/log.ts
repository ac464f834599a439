import { Chalk, type ChalkInstance } from "chalk";
import type { Writable } from "node:stream";
import { guardStderr } from "./io.js";

/** Messages for people. They all go to stderr: stdout carries data only. */
export type Log = {
    readonly stderr: Writable & { isTTY?: boolean };
    readonly quiet: boolean;
    readonly color: ChalkInstance;
    info(message: string): void;
    warn(message: string): void;
    error(message: string): void;
    /** Messages from llama.cpp: shown with --verbose. */
    engine(message: string): void;
};

export function createLog(
    stderr: Writable & { isTTY?: boolean },
    { quiet = false, verbose = false }: { quiet?: boolean; verbose?: boolean } = {},
): Log {
    guardStderr(stderr);
    const useColor = stderr.isTTY === true && process.env["NO_COLOR"] === undefined;
    const color = new Chalk({ level: useColor ? 1 : 0 });
    const write = (line: string) => {
        if (!stderr.destroyed && stderr.writable) stderr.write(`${line}\n`);
    };
    return {
        stderr,
        quiet,
        color,
        info: (message) => { if (!quiet) write(`${color.dim("nemoreward:")} ${message}`); },
        warn: (message) => write(`${color.yellow("nemoreward: warning:")} ${message}`),
        error: (message) => write(`${color.red("nemoreward: error:")} ${message}`),
        engine: (message) => {
            const text = message.trim();
            if (text === "") return;
            // errors reach the user inside nemoreward's own one-line error; --verbose shows the engine's words too
            if (verbose) write(`${color.dim("llama.cpp:")} ${text}`);
        },
    };
}
