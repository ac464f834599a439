import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, linkSync, mkdtempSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { duck } from "../duckdb.js";
import { demoConversations, parseJsonl, repoRoot, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

/**
 * Every file a command writes goes through one owner: checked, locked by the file's identity, opened only once
 * every check has passed, and written whole or not at all. Each case here lost or altered data before.
 */

const cli = `${repoRoot}bin/nemoreward.js`;
const newDir = (name: string) => mkdtempSync(join(tmpdir(), `nemoreward-files-${name}-`));
/** Every file of a folder with its bytes. */
const snapshot = (folder: string) => Object.fromEntries(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name)).toString("base64")]));
const demoLines = readFileSync(demoConversations, "utf8").split(/(?<=\n)/);

/** A run that reads a pipe the test holds open, so that it surely holds its outputs while the others start. */
function heldRun(args: string[]): { child: ChildProcess; finish: () => Promise<{ code: number | null; stderr: string }> } {
    const child = spawn(process.execPath, [cli, "score", "-", "-m", tinyModel, "-q", ...args], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.stdin!.write(demoLines.slice(0, 2).join(""));
    return {
        child,
        finish: async () => {
            child.stdin!.end(demoLines.slice(2).join(""));
            return { code: await exit, stderr };
        },
    };
}

/** Resolves once `path` exists (the held run has claimed its output: its lock; or opened it: the file). */
async function claimed(path: string): Promise<void> {
    for (let i = 0; i < 2000 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

describe("a second writer is refused while the first writes, for every output format and every name of the file", () => {
    it.each(["parquet", "json", "jsonl", "csv"])("-o x.%s: the second run gets one line and exit 2; the first finishes a whole file", async (format) => {
        const folder = newDir(format);
        const out = join(folder, `x.${format}`);
        const first = heldRun(["-o", out]);
        await claimed(`${out}.lock`);
        const link = join(folder, `link.${format}`);
        symlinkSync(out, link);
        for (const path of [out, link, join(folder, ".", `x.${format}`)]) {
            const second = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-o", path]);
            expect(second.stderr).toMatch(new RegExp(`^nemoreward: error: ${path.replace(/[.]/g, "[.]")} is being written by another run \\(pid \\d+ on [^)]+\\)`));
            expect(second.code).toBe(2);
        }
        const done = await first.finish();
        expect(done.stderr).toBe("");
        expect(done.code).toBe(0);
        const rows = format === "parquet" ? await duck(`SELECT id FROM '${out}'`)
            : format === "json" ? JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>[]
            : format === "csv" ? readFileSync(out, "utf8").trim().split("\n").slice(1).map((line) => ({ id: line.split(",")[0] }))
            : parseJsonl(readFileSync(out, "utf8"));
        expect(rows.map((r) => Number(r["id"]))).toEqual([1, 2, 3, 4, 5]);
    });

    it("a hard link to a file written in place is refused: writing it would change the other name too", async () => {
        const folder = newDir("hardlink");
        const out = join(folder, "x.jsonl"), alias = join(folder, "alias.jsonl");
        const first = heldRun(["-o", out]);
        await claimed(out); // opened: the model has loaded
        linkSync(out, alias);
        const second = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-o", alias]);
        expect(second.stderr.trim()).toBe(`nemoreward: error: ${alias} has 2 names (hard links): writing it in place would change it under the others too; write elsewhere`);
        expect(second.code).toBe(2);
        expect((await first.finish()).code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    });

    it("merge into a file a scoring run writes is refused, and two merges into one file: one merges, the other gets one line", async () => {
        const folder = newDir("merge");
        const out = join(folder, "scored.jsonl");
        const first = heldRun(["-o", out]);
        await claimed(`${out}.lock`);
        const parts = [0, 1].map((k) => join(folder, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries()) writeFileSync(part, Array.from({ length: 50_000 }, (_, i) => `{"id":${2 * i + k}}\n`).join(""));
        const into = await runBuiltCli(["merge", out, ...parts]);
        expect(into.stderr).toMatch(/is being written by another run/);
        expect(into.code).toBe(2);
        expect((await first.finish()).code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);

        const merged = join(folder, "merged.jsonl");
        const both = await Promise.all([runBuiltCli(["merge", merged, ...parts]), runBuiltCli(["merge", merged, ...parts])]);
        const codes = both.map((r) => r.code).sort();
        expect(codes[0]).toBe(0);
        if (codes[1] !== 0) expect(both.find((r) => r.code !== 0)!.stderr).toMatch(/^nemoreward: error: .* is being written by another run/);
        expect(both.map((r) => r.stderr).join("")).not.toMatch(/ENOENT|rename/);
        expect(readFileSync(merged, "utf8")).toBe(Array.from({ length: 100_000 }, (_, i) => `{"id":${i}}\n`).join(""));
        expect(readdirSync(folder).filter((name) => name.startsWith("merged"))).toEqual(["merged.jsonl"]);
    });
});

describe("--rejects and --per-row are outputs like -o", () => {
    it("--rejects naming the output, its .resume or .shard record, or the input is refused before anything is written", async () => {
        const folder = newDir("rejects");
        const out = join(folder, "out.jsonl");
        writeFileSync(out, "old\n");
        writeFileSync(`${out}.resume`, "old record\n");
        const before = snapshot(folder);
        for (const rejects of [out, `${out}.resume`, `${out}.shard`, join(folder, ".", "out.jsonl")]) {
            const run = await runInProcess(["score", demoConversations, "-m", tinyModel, "--min-reward", "0", "-o", out, "--rejects", rejects]);
            expect(run.stderr).toMatch(/^nemoreward: error: --rejects .* and -o .* would both write .*: each output needs a file of its own\n$/);
            expect(run.code).toBe(2);
        }
        const input = await runInProcess(["score", demoConversations, "-m", tinyModel, "--min-reward", "0", "-o", out, "--rejects", demoConversations]);
        expect(input.stderr).toMatch(/is also an input/);
        expect(snapshot(folder)).toEqual(before);
    });
});

describe("a run that fails a check leaves every file as it was", () => {
    // outputs that exist before the run, with bytes that must survive it
    const prepare = () => {
        const folder = newDir("failed");
        const files = {
            out: join(folder, "out.jsonl"), rejects: join(folder, "rejects.jsonl"), perRow: join(folder, "per-row.jsonl"), report: join(folder, "report.json"),
            pairs: join(folder, "pairs.jsonl"), parquet: join(folder, "out.parquet"), csv: join(folder, "out.csv"), merged: join(folder, "merged.jsonl"),
        };
        for (const [name, path] of Object.entries(files)) writeFileSync(path, `old ${name}\n`);
        writeFileSync(`${files.out}.resume`, '{"nemoreward":2,"format":"jsonl"}\n');
        writeFileSync(`${files.out}.shard`, '{"index":0,"count":2,"rows":1,"complete":true}\n');
        const badTemplate = join(folder, "bad.jinja"), raising = join(folder, "raising.jinja"), notModel = join(folder, "not-a-model.gguf");
        writeFileSync(badTemplate, "{% for m in messages %}{{ m.content }");
        writeFileSync(raising, "{{ raise_exception('no') }}");
        writeFileSync(notModel, "not a model");
        return { folder, files, badTemplate, raising, notModel, missing: join(folder, "missing.jinja") };
    };

    it("every command and every output it writes: a template that is missing, does not parse or raises (exit 2), a file that is no model (exit 1)", async () => {
        const { folder, files, badTemplate, raising, notModel, missing } = prepare();
        const commands: string[][] = [
            ["score", demoConversations, "-o", files.out],
            ["score", demoConversations, "-o", files.out, "--shard", "0/2"],
            ["score", demoConversations, "-o", files.parquet],
            ["score", demoConversations, "-o", files.csv, "--top-k", "1", "--rejects", files.rejects],
            ["render", demoConversations, "-o", files.out],
            ["eval", demoConversations, "-o", files.report, "--per-row", files.perRow],
            ["pairs", demoConversations, "-o", files.pairs],
        ];
        const before = snapshot(folder);
        for (const command of commands) {
            for (const [flags, code] of [[["--chat-template", missing], 2], [["--chat-template", badTemplate], 2], [["--chat-template", raising], 2], [["-m", notModel], 1]] as const) {
                const run = await runInProcess([...command, ...(flags[0] === "-m" ? [] : ["-m", tinyModel]), ...flags]);
                expect(run.code, `${command.join(" ")} ${flags.join(" ")}: ${run.stderr}`).toBe(code);
                expect(run.stderr.trim().split("\n")).toHaveLength(1);
                expect(snapshot(folder), `${command.join(" ")} ${flags.join(" ")}`).toEqual(before);
            }
        }
    });

    it("a resume refused for other settings or other input leaves the file and its records as they were", async () => {
        const folder = newDir("resume-refused");
        const out = join(folder, "out.jsonl");
        const input = join(folder, "in.jsonl");
        writeFileSync(input, demoLines.join(""));
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1"])).code).toBe(0);
        const before = snapshot(folder);
        const otherSettings = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1", "--resume", "--precise"]);
        expect(otherSettings.code).toBe(2);
        writeFileSync(input, demoLines.slice().reverse().join(""));
        const otherInput = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1", "--resume"]);
        expect(otherInput.stderr).toMatch(/was written from other input: row 1/);
        expect(otherInput.code).toBe(2);
        writeFileSync(input, demoLines.join(""));
        expect(snapshot(folder)).toEqual(before);
    });

    it("merge refused (a shard missing) or interrupted leaves its output as it was", async () => {
        const folder = newDir("merge-refused");
        const merged = join(folder, "merged.jsonl");
        writeFileSync(merged, "old merged\n");
        const part = join(folder, "part-0.jsonl");
        writeFileSync(part, '{"id":0}\n');
        writeFileSync(`${part}.shard`, '{"index":0,"count":2,"rows":1,"complete":true}\n');
        const before = snapshot(folder);
        const run = await runInProcess(["merge", merged, part]);
        expect(run.stderr).toBe("nemoreward: error: shard 1/2 is missing\n");
        expect(snapshot(folder)).toEqual(before);
    });
});

describe("stderr is for people: its reader going away never stops the data", () => {
    it("with stderr closed after 10 bytes, every row is written, the lock released, exit 0", async () => {
        const folder = newDir("stderr");
        const input = join(folder, "in.jsonl"), out = join(folder, "out.jsonl");
        writeFileSync(input, Array.from({ length: 300 }, (_, i) => JSON.stringify({ ...JSON.parse(demoLines[i % 5]!), id: i })).join("\n") + "\n");
        const run = await new Promise<{ code: number | null }>((resolve) => {
            const child = spawn("bash", ["-c", `"$0" "$1" score "$2" -m "$3" -o "$4" --progress-seconds 0 2> >(head -c 10 > /dev/null)`, process.execPath, cli, input, tinyModel, out]);
            child.on("close", (code) => resolve({ code }));
        });
        expect(run.code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
        expect(existsSync(`${out}.lock`)).toBe(false);
        expect(statSync(`${out}.resume`).size).toBeGreaterThan(300 * 17);
    });
});
