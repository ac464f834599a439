import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { newDir, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

// merge: what it takes as parts, whichever way they are named.

const tmp = newDir("merge");
const rows = ["What is 2+2?", "Name a colour", "Say hi"].map((prompt, i) => JSON.stringify({ id: i, prompt, response: `r${i}` })).join("\n") + "\n";

/** Two shard parts of `rows` in a folder of their own, with a stray data file, a log and a note beside them. */
async function partsFolder(name: string, ext: "jsonl" | "parquet"): Promise<{ folder: string; parts: string[] }> {
    const folder = join(tmp, name);
    mkdirSync(folder);
    const input = join(tmp, `${name}.jsonl`);
    writeFileSync(input, rows);
    const parts = [0, 1].map((k) => join(folder, `part-${k}.${ext}`));
    for (const [k, part] of parts.entries())
        expect((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "--shard", `${k}/2`, "-o", part])).code).toBe(exitCodes.ok);
    copyFileSync(parts[0]!, join(folder, `zzz.${ext}`)); // a data file that is no part: no .shard record
    writeFileSync(join(folder, "part-0.err"), "log\n");
    writeFileSync(join(folder, "notes.txt"), "note\n");
    return { folder, parts };
}

describe("merge", () => {
    it("a folder and a glob of the same files behave the same: the files that are no part are skipped and named, the parts merged", async () => {
        for (const ext of ["jsonl", "parquet"] as const) {
            const { folder } = await partsFolder(`both-${ext}`, ext);
            const fromFolder = await runInProcess(["merge", join(tmp, `folder-${ext}.jsonl`), folder]);
            const fromGlob = await runInProcess(["merge", join(tmp, `glob-${ext}.jsonl`), join(folder, "*")]);
            for (const run of [fromFolder, fromGlob]) {
                expect(run.code, run.stderr).toBe(exitCodes.ok);
                for (const stray of ["zzz." + ext, "part-0.err", "notes.txt"]) expect(run.stderr).toContain(`${join(folder, stray)} is no part`);
            }
            expect(fromFolder.stderr.replaceAll(`folder-${ext}`, "")).toBe(fromGlob.stderr.replaceAll(`glob-${ext}`, ""));
            expect(readFileSync(join(tmp, `folder-${ext}.jsonl`), "utf8")).toBe(readFileSync(join(tmp, `glob-${ext}.jsonl`), "utf8"));
        }
    });

    it("the same part named twice is a usage error (exit 2) that says so, not 'busy' (75); nothing is written", async () => {
        const { parts } = await partsFolder("twice", "parquet");
        const out = join(tmp, "twice-merged.jsonl");
        for (const given of [[parts[0]!, parts[1]!, parts[0]!], [parts[0]!, parts[1]!, join(tmp, "twice", ".", "part-1.parquet")]]) {
            const run = await runInProcess(["merge", out, ...given]);
            expect(run.code, run.stderr).toBe(exitCodes.usage);
            expect(run.stderr).toMatch(/part-[01]\.parquet is given twice/);
            expect(run.stderr).not.toMatch(/another run|pid/);
            expect(existsSync(out)).toBe(false);
        }
    });

    it("says '1 row from 1 shard' for one", async () => {
        const input = join(tmp, "one.jsonl");
        writeFileSync(input, `${JSON.stringify({ prompt: "Q", response: "A" })}\n`);
        const part = join(tmp, "one-part.jsonl");
        expect((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "--shard", "0/1", "-o", part])).code).toBe(exitCodes.ok);
        const run = await runInProcess(["merge", join(tmp, "one-merged.jsonl"), part]);
        expect(run.code, run.stderr).toBe(exitCodes.ok);
        expect(run.stderr).toMatch(/merged 1 row from 1 shard into/);
    });
});
