/**
 * The benchmark's memory case: peak RSS scoring N rows against 10 × N rows. Each row carries a 64 kB field besides
 * its conversation, so that a run keeping its rows (a leak per row) would grow by hundreds of MiB over the larger
 * input. Scored with the tiny fixture model: the engine's work is beside the point, the rows' journey is not.
 */
import { closeSync, openSync, writeSync } from "node:fs";
import { conversation, dir, fmt, run, text } from "./harness.js";

const model = "fixtures/models/tiny-reward.gguf";

function writeRows(path: string, rows: number): void {
    const fd = openSync(path, "w");
    const extra = text(64 * 1024);
    for (let i = 0; i < rows; i++)
        writeSync(fd, JSON.stringify({ id: i, extra, ...conversation(`Question ${i}: ${text(40)}`, text(30)) }) + "\n");
    closeSync(fd);
}

/** The table lines of the memory case: N rows, then 10 × N rows, and how their peak RSS compare. */
export function memoryCase(quick: boolean, threads: number): string[] {
    const n = quick ? 100 : 300;
    const peak = (rows: number) => {
        const jsonl = `${dir}/memory-${rows}.jsonl`;
        writeRows(jsonl, rows);
        return run(["node", "bin/nemoreward.js", "score", jsonl, "-m", model, "--threads", String(threads), "-q", "-o", "/dev/null", "--format", "jsonl"]).peakMiB ?? NaN;
    };
    const small = peak(n), large = peak(10 * n);
    return [`| memory: rows of 64 kB, ${10 * n} rows vs ${n} (tiny model): peak RSS | ${fmt(large)} MiB vs ${fmt(small)} MiB ` +
        `(${fmt(large / small, 2)}×) | | | ${fmt(large)} MiB |`];
}
