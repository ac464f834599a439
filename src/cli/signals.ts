import { spawn } from "node:child_process";
import { constants } from "node:os";
import { fileURLToPath } from "node:url";
import { exitCodes } from "../errors.js";
import { guardStderr } from "../io.js";
import { namedDescriptors } from "./descriptors.js";

/** The signals that stop a run: Ctrl-C, `kill`, a closed terminal or ssh session. */
const stopSignals = ["SIGINT", "SIGTERM", "SIGHUP"] as const;

/**
 * Runs the command line in a child process (cliProcess.ts) and takes the signals for it. The first SIGINT, SIGTERM
 * or SIGHUP asks the run to stop: it stops reading, finishes the rows in flight, flushes, closes its records and
 * exits 130. A second one ends it at once, exit 130. No handler inside the run could promise that: a long synchronous
 * step (a huge row being tokenized) blocks its event loop and every signal waits behind it. This process only waits.
 */
export function supervise(args: string[]): void {
    // a closed stderr must not end this process: the run it stands for would end with it
    guardStderr(process.stderr);
    const entry = fileURLToPath(new URL("./cliProcess.js", import.meta.url));
    // descriptors the command line names (`-o /dev/fd/5`) go to the run at their numbers; the channel takes a free one
    const named = namedDescriptors(args);
    if ("refused" in named) {
        process.stderr.write(`nemoreward: error: ${named.refused}\n`);
        process.exitCode = exitCodes.usage;
        return;
    }
    const stdio: ("inherit" | "ipc" | "ignore" | number)[] = ["inherit", "inherit", "inherit"];
    for (const fd of named.fds) stdio[fd] = fd;
    const channel = [...stdio.keys(), stdio.length].find((k) => k > 2 && stdio[k] === undefined)!;
    stdio[channel] = "ipc";
    const child = spawn(process.execPath, [...process.execArgv, entry, ...args], { stdio: Array.from(stdio, (s) => s ?? "ignore") });
    let stopping = false;
    const onSignal = () => {
        if (stopping) {
            child.kill("SIGKILL");
            process.exit(exitCodes.interrupted);
        }
        stopping = true;
        // a warning, so that -q shows it too: whoever sent the signal learns it was heard, and how to stop at once;
        // the command says on its way out what stopping meant for it (rows in flight finished, a build abandoned)
        process.stderr.write("nemoreward: warning: stopping (signal again to stop at once)\n");
        child.send("stop", () => undefined); // a child already gone has nothing to stop
    };
    for (const signal of stopSignals) process.on(signal, onSignal);
    child.on("error", (error) => {
        process.stderr.write(`nemoreward: error: cannot start: ${error.message}\n`);
        process.exitCode = exitCodes.failure;
    });
    child.on("exit", (code, signal) => {
        // killed by a signal (the OOM killer's SIGKILL, an abort): report it as a shell does, 128 + its number
        process.exitCode = code ?? 128 + (signal === null ? 0 : constants.signals[signal]);
        for (const name of stopSignals) process.off(name, onSignal);
    });
}

/**
 * In the run's process: aborted when the supervisor asks the run to stop. The signals themselves are the supervisor's:
 * those sent to the whole process group (Ctrl-C, a closed terminal, systemd, Slurm) reach this process too, and must
 * not count twice. Without a supervisor the signals keep their default action.
 */
export function stopRequests(): AbortSignal {
    const stop = new AbortController();
    if (process.send === undefined) return stop.signal;
    for (const signal of stopSignals) process.on(signal, () => undefined);
    process.on("message", (message) => {
        if (message === "stop") stop.abort();
    });
    // The supervisor is gone, SIGKILLed with the run it stood for: the run ends too, rather than outlive it.
    process.on("disconnect", () => process.kill(process.pid, "SIGKILL"));
    process.channel?.unref(); // the run ends when its work does
    return stop.signal;
}
