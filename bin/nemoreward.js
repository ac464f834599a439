#!/usr/bin/env node
import { main } from "../dist/src/cli/main.js";

// First SIGINT/SIGTERM: stop reading, finish the rows in flight, flush, exit 130. A second one: exit at once.
const interrupt = new AbortController();
const onSignal = () => {
    if (interrupt.signal.aborted) process.exit(130);
    interrupt.abort();
};
process.on("SIGINT", onSignal);
process.on("SIGTERM", onSignal);

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
    signal: interrupt.signal,
});
finished = true;
