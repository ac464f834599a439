import { spawnSync } from "node:child_process";
import { closeSync, openSync, readFileSync, writeSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { rmRecords, v2Records } from "../eval/fixtures.js";
import { cli, newDir, tinyModel } from "../helpers.js";

// eval keeps sums and counts, not rows: each record here carries 40 kB of notes, so that the rows of either file
// kept alive would need more than 80 MB, against a 48 MB heap.
const tmp = newDir("benchmark-memory");

function write(path: string, records: object[]): string {
    const fd = openSync(path, "w");
    const notes = "n".repeat(40_000);
    for (const record of records) writeSync(fd, `${JSON.stringify({ ...record, notes })}\n`);
    closeSync(fd);
    return path;
}

function evalUnderSmallHeap(input: string) {
    const log = join(tmp, "stderr.log");
    const stderr = openSync(log, "w");
    const run = spawnSync(process.execPath, ["--max-old-space-size=48", cli, "eval", input, "-m", tinyModel, "--threads", "1", "--json", "-q"],
        { stdio: ["ignore", "pipe", stderr], encoding: "utf8" });
    closeSync(stderr);
    expect(run.status, readFileSync(log, "utf8").slice(-2000)).toBe(0);
    return JSON.parse(run.stdout);
}

describe("eval runs in flat memory", () => {
    it("a 2,000-row RewardBench 2 file (8,000 answers) under a 48 MB heap", { timeout: 600_000 }, () => {
        const records = v2Records(360, 17);
        expect(records.length).toBeGreaterThanOrEqual(2000);
        const report = evalUnderSmallHeap(write(join(tmp, "v2.jsonl"), records));
        expect(report).toMatchObject({ benchmark: "RewardBench 2", rows: records.length, errors: 0, missing: [] });
        expect(report.subsets.Ties.rows).toBe(records.filter((r) => r.subset === "Ties").length);
    });

    it("a 3,000-row RM-Bench file (18,000 answers) under a 48 MB heap", { timeout: 600_000 }, () => {
        const records = rmRecords(600, 19);
        const report = evalUnderSmallHeap(write(join(tmp, "rm.jsonl"), records));
        expect(report).toMatchObject({ benchmark: "RM-Bench", rows: 3000, errors: 0, missing: [] });
        expect(report.domains.safety.rows).toBe(1200);
    });
});
