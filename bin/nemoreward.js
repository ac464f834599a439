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

process.exitCode = await main(process.argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
    signal: interrupt.signal,
});
