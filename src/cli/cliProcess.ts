// The run's process, started by bin/nemoreward.js through supervise() (signals.ts).
import { stopRequests } from "./signals.js";
import { exitCodes } from "../errors.js";
import { guardStderr } from "../io.js";

const signal = stopRequests(); // first, before the modules that take a while to load
guardStderr(process.stderr);
// A file grown past the size limit (`ulimit -f`) is a write that fails (EFBIG), reported and cleaned up as a full
// disk is, never a run killed with its partial files left behind.
process.on("SIGXFSZ", () => undefined);
const { main } = await import("./main.js");

// A reader gone before text that no writer of ours watches (the help, with `--help | head`): exit as a shell reports
// SIGPIPE rather than with a stack trace. The output writers watch stdout themselves, and finish their run first.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
    if (error.code === "EPIPE" && process.stdout.listenerCount("error") === 1) process.exit(exitCodes.outputClosed);
});

// Should the event loop ever drain with the run unfinished (a promise nothing settles), exit 70, not a silent 0.
let finished = false;
process.on("exit", (code) => {
    if (finished || code !== 0) return;
    process.stderr.write("nemoreward: internal error: the run ended without finishing; please report this\n");
    process.exitCode = 70;
});

process.exitCode = await main(process.argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    signal,
});
finished = true;
