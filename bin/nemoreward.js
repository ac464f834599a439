#!/usr/bin/env node
import { main } from "../dist/src/cli/main.js";

process.exitCode = await main(process.argv, {
    stdin: process.stdin,
    stdout: process.stdout,
    stderr: process.stderr,
    stdinIsTTY: process.stdin.isTTY === true,
});
