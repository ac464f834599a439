import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { columnTypes, duck } from "../duckdb.js";
import {
    claimed, cli, dataset, demoConversations, exitWithin, heldRun, newDir, parseJsonl, readFile as readRowsOf, runBuiltCli, runInProcess, snapshot,
    tinyModel, uninterruptedOutput, waitForText,
} from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-shards-"));
const input = join(tmp, "input.jsonl");
writeFileSync(input, dataset(600));
const expectedOutput = uninterruptedOutput(input);

describe("shards", () => {
    it("three shards merged back give byte for byte the unsharded output", async () => {
        const parts = [0, 1, 2].map((k) => join(tmp, `part-${k}.jsonl`));
        const runs = await Promise.all(parts.map((part, k) => runBuiltCli(["score", input, "-m", tinyModel, "-q", "--threads", "1", "--shard", `${k}/3`, "-o", part])));
        for (const run of runs) expect(run.code).toBe(0);
        expect(readFileSync(parts[0]!, "utf8").trim().split("\n")).toHaveLength(200);
        const merged = join(tmp, "merged.jsonl");
        // given out of order: the .shard records put them right
        const merge = await runInProcess(["merge", merged, parts[2]!, parts[0]!, parts[1]!]);
        expect(merge.code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(await expectedOutput());
    });

    it("merge refuses a missing shard and a shard short of rows", async () => {
        const parts = [0, 1].map((k) => join(tmp, `small-${k}.jsonl`));
        for (const [k, part] of parts.entries()) await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", `${k}/2`, "-o", part]);
        // CSV files of other columns are refused, leaving nothing
        const [a, b] = [join(tmp, "cols-a.csv"), join(tmp, "cols-b.csv")];
        writeFileSync(a, "prompt,response,reward\nP,R,1\n");
        writeFileSync(b, "response,prompt,reward\nR,P,2\n");
        const columns = await runInProcess(["merge", join(tmp, "cols.csv"), a, b]);
        expect(columns.code).toBe(2);
        expect(columns.stderr).toMatch(/has other columns than/);
        expect(existsSync(join(tmp, "cols.csv")) || existsSync(join(tmp, "cols.csv.partial"))).toBe(false);
        const otherFormat = await runInProcess(["merge", join(tmp, "m0.csv"), ...parts]);
        expect(otherFormat.code).toBe(2);
        expect(otherFormat.stderr).toMatch(/the shards are jsonl; .*m0.csv names csv/);
        const missing = await runInProcess(["merge", join(tmp, "m1.jsonl"), parts[0]!]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/shard 1\/2 is missing/);
        writeFileSync(parts[0]!, readFileSync(parts[0]!, "utf8").split("\n").slice(0, 1).join("\n") + "\n");
        const short = await runInProcess(["merge", join(tmp, "m2.jsonl"), ...parts]);
        expect(short.code).toBe(2);
        expect(short.stderr).toMatch(/small-0\.jsonl is not the file its run wrote/);
    });
});

describe("merge", () => {
    it("carries a shard row over 64 MiB whole", async () => {
        // written piece by piece, and compared by digest, so that the test never holds the row itself
        const piece = Buffer.alloc(1 << 20, "a");
        const pieces = 65;
        const expected = createHash("sha256");
        const part0 = join(tmp, "big-0.jsonl"), part1 = join(tmp, "big-1.jsonl");
        const fd = openSync(part0, "w");
        const write = (text: string | Buffer) => {
            writeSync(fd, text);
            expected.update(text);
        };
        write('{"id":0,"x":"');
        for (let i = 0; i < pieces; i++) write(piece);
        write('","reward":1}\n');
        const second = '{"id":1,"reward":2}\n', third = '{"id":2,"reward":3}\n';
        expected.update(second).update(third);
        writeSync(fd, third);
        closeSync(fd);
        writeFileSync(part1, second);
        const merged = join(tmp, "big.jsonl");
        const run = await runBuiltCli(["merge", merged, part0, part1]);
        expect(run.stderr).not.toMatch(/error/);
        expect(run.code).toBe(0);
        expect(statSync(merged).size).toBe(statSync(part0).size + statSync(part1).size);
        expect(createHash("sha256").update(readFileSync(merged)).digest("hex")).toBe(expected.digest("hex"));
    });

    it("skips the record files that `part-*` matches beside the shards", async () => {
        const dir = mkdtempSync(join(tmp, "glob-"));
        const parts = [0, 1].map((k) => join(dir, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries())
            expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        const straight = await runInProcess(["score", demoConversations, "-m", tinyModel]);
        // what the shell gives for part-*, sorted
        const glob = parts.flatMap((part) => [part, `${part}.resume`, `${part}.shard`]).filter((path) => existsSync(path)).sort();
        expect(glob.some((path) => path.endsWith(".shard"))).toBe(true);
        const merged = join(tmp, "globbed.jsonl");
        const run = await runInProcess(["merge", merged, ...glob]);
        expect(run.stderr).toMatch(/^nemoreward: merged 5 rows from 2 shards/);
        expect(run.code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(straight.stdout);
    });

    it("a file the pattern matches that is no part (a shard's log, a note) is skipped and named; a damaged part is still an error", async () => {
        const dir = mkdtempSync(join(tmp, "logs-"));
        const parts = [0, 1].map((k) => join(dir, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries())
            expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        writeFileSync(join(dir, "part-0.err"), "nemoreward: scored 3 rows\n");
        writeFileSync(join(dir, "part-1.csv"), "prompt,response\nHi,Hello\n"); // a data file, but no part of this run
        const straight = await runInProcess(["score", demoConversations, "-m", tinyModel]);
        const merged = join(tmp, "skipped.jsonl");
        const run = await runInProcess(["merge", merged, join(dir, "part-*")]);
        expect(run.stderr).toMatch(/part-0\.err is no part \(it has no \.shard record\): skipped/);
        expect(run.stderr).toMatch(/part-1\.csv is no part \(it has no \.shard record\): skipped/);
        expect(run.code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(straight.stdout);
        // a part (it has its .shard record) that was cut short is an error, never skipped
        writeFileSync(parts[1]!, readFileSync(parts[1]!, "utf8").split("\n")[0] + "\n");
        const damaged = await runInProcess(["merge", join(tmp, "damaged.jsonl"), join(dir, "part-*")]);
        expect(damaged.stderr).toMatch(/part-1\.jsonl is not the file its run wrote/);
        expect(damaged.code).toBe(2);
    });

    it("the first Ctrl-C stops a merge: exit 130, and no output, whole or partial", async () => {
        const shards = [0, 1].map((k) => {
            const path = join(tmp, `big-part-${k}.jsonl`);
            const fd = openSync(path, "w");
            for (let i = k; i < 600_000; i += 2 * 10_000)
                writeSync(fd, Array.from({ length: 10_000 }, (_, j) => `{"id":${i + 2 * j},"reward":null}\n`).join(""));
            closeSync(fd);
            return path;
        });
        const out = join(tmp, "big-merged.jsonl");
        const child = spawn(process.execPath, [cli, "merge", out, ...shards]);
        let stderr = "";
        child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
        const exited = exitWithin(child, 60);
        // the warning comes once the shards are ordered, just before the merge begins
        await waitForText(child.stderr, (text) => /taking them in the order given/.test(text), 30);
        child.kill("SIGINT");
        expect(await exited, stderr).toBe(130);
        expect(stderr).toMatch(/interrupted/);
        expect(existsSync(out)).toBe(false);
        expect(existsSync(`${out}.partial`)).toBe(false);
    });
});

describe("what nemoreward writes, it reads back to the same rows", () => {
    const records = [
        { id: "1", note: "a\ttab", prompt: "a line\nbreak", response: 'a "quote", a comma' },
        { id: "2", note: '"starts with a quote', prompt: "CRLF\r\ninside", response: "ünïcødé 😀 中文" },
        { id: "3", note: "ends with a tab\t", prompt: "lone \r return", response: '""' },
        { id: "4", note: "", prompt: "plain", response: "\"quoted\"" },
    ];
    const input = join(tmp, "awkward.jsonl");
    writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const readBack = async (path: string) => {
        const rows: Record<string, unknown>[] = [];
        for (const row of await readRowsOf(path)) {
            expect(row.problem).toBeUndefined();
            rows.push(row.record!);
        }
        return rows;
    };
    const userColumns = (rows: Record<string, unknown>[]) => rows.map(({ id, note, prompt, response }) => ({ id, note, prompt, response }));

    it.each(["csv", "tsv"])("%s: scored, read back, scored again, merged from shards", async (format) => {
        const once = join(tmp, `awkward-once.${format}`), twice = join(tmp, `awkward-twice.${format}`);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", once])).code).toBe(0);
        const first = await readBack(once);
        expect(userColumns(first)).toEqual(records);
        expect(first.every((row) => row["reward"] !== "" && row["error"] === "")).toBe(true);
        const again = await runInProcess(["score", once, "-m", tinyModel, "-o", twice]);
        expect(again.stderr).not.toMatch(/warning/);
        expect(again.code).toBe(0);
        expect(userColumns(await readBack(twice))).toEqual(records);
        const parts = [0, 1].map((k) => join(tmp, `awkward-part-${k}.${format}`));
        for (const [k, part] of parts.entries())
            expect((await runInProcess(["score", input, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        const merged = join(tmp, `awkward-merged.${format}`);
        const merge = await runInProcess(["merge", merged, ...parts]);
        expect(merge.stderr).not.toMatch(/error/);
        expect(readFileSync(merged, "utf8")).toBe(readFileSync(once, "utf8"));
    });
});

describe("a second writer is refused while the first writes, for every output format and every name of the file", () => {
    it("merge into a file a scoring run writes is refused, and two merges into one file: one merges, the other gets one line", async () => {
        const folder = newDir("merge");
        const out = join(folder, "scored.jsonl");
        const first = heldRun(["-o", out]);
        await claimed(`${out}.lock`);
        const parts = [0, 1].map((k) => join(folder, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries()) writeFileSync(part, Array.from({ length: 50_000 }, (_, i) => `{"id":${2 * i + k}}\n`).join(""));
        const into = await runBuiltCli(["merge", out, ...parts]);
        expect(into.stderr).toMatch(/is being written by another run/);
        expect(into.code).toBe(75);
        expect((await first.finish()).code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);

        const merged = join(folder, "merged.jsonl");
        const both = await Promise.all([runBuiltCli(["merge", merged, ...parts]), runBuiltCli(["merge", merged, ...parts])]);
        const codes = both.map((r) => r.code).sort();
        expect(codes[0]).toBe(0);
        if (codes[1] !== 0) expect(both.find((r) => r.code !== 0)!.stderr).toMatch(/^nemoreward: error: .* is being written by another run/m);
        expect(both.map((r) => r.stderr).join("")).not.toMatch(/ENOENT|rename/);
        expect(readFileSync(merged, "utf8")).toBe(Array.from({ length: 100_000 }, (_, i) => `{"id":${i}}\n`).join(""));
        expect(readdirSync(folder).filter((name) => name.startsWith("merged"))).toEqual(["merged.jsonl"]);
    });
});

describe("a run that fails a check leaves every file as it was", () => {
    it("merge refused (a shard missing) or interrupted leaves its output as it was", async () => {
        const folder = newDir("merge-refused");
        const merged = join(folder, "merged.jsonl");
        writeFileSync(merged, "old merged\n");
        const part = join(folder, "part-0.jsonl");
        writeFileSync(part, '{"id":0}\n');
        writeFileSync(`${part}.shard`, '{"index":0,"count":2,"rows":1,"complete":true}\n');
        const before = snapshot(folder);
        const run = await runInProcess(["merge", merged, part]);
        expect(run.stderr).toMatch(/^nemoreward: error: cannot merge: shard 1\/2 is missing; /);
        expect(snapshot(folder)).toEqual(before);
    });
});

describe("merge joins only the shards of one run, as their runs wrote them", () => {
    const rows = (n: number, prefix = "") => Array.from({ length: n }, (_, i) => JSON.stringify({ id: i, prompt: `${prefix}p${i}`, response: `r${i}` })).join("\n") + "\n";
    const shardsOf = async (folder: string, source: string, name: string, extra: string[][] = [[], []]) => {
        const parts = [0, 1].map((k) => join(folder, `${name}-${k}.jsonl`));
        for (const [k, part] of parts.entries()) expect((await runInProcess(["score", source, "-m", tinyModel, "--shard", `${k}/2`, "-o", part, ...extra[k]!])).code).toBe(0);
        return parts;
    };

    it("two shards' files swapped (their records not): merge refuses, and so does --resume of either; every file as it was", async () => {
        const folder = newDir("swapped");
        const source = join(folder, "in.jsonl");
        writeFileSync(source, rows(6));
        const parts = await shardsOf(folder, source, "p");
        const [a, b] = parts.map((part) => readFileSync(part));
        writeFileSync(parts[0]!, b!);
        writeFileSync(parts[1]!, a!);
        const before = snapshot(folder);
        const merge = await runInProcess(["merge", join(folder, "merged.jsonl"), ...parts]);
        expect(merge.stderr).toMatch(/p-0\.jsonl is not the file its run wrote/);
        expect(merge.code).toBe(2);
        for (const [k, part] of parts.entries()) {
            const resumed = await runInProcess(["score", source, "-m", tinyModel, "--shard", `${k}/2`, "-o", part, "--resume"]);
            expect(resumed.stderr).toMatch(new RegExp(`p-${k}\\.jsonl\\.resume does not describe .*p-${k}\\.jsonl at record 1`));
            expect(resumed.code).toBe(2);
        }
        expect(snapshot(folder)).toEqual(before);
    });

    it("a shard whose rows were edited in place (the same size) is refused by the bytes its record holds", async () => {
        const folder = newDir("edited");
        const source = join(folder, "in.jsonl");
        writeFileSync(source, rows(6));
        const parts = await shardsOf(folder, source, "p");
        writeFileSync(parts[1]!, readFileSync(parts[1]!, "utf8").replace('"p1"', '"P1"'));
        const merge = await runInProcess(["merge", join(folder, "merged.jsonl"), ...parts]);
        expect(merge.stderr).toMatch(/p-1\.jsonl is not the file its run wrote \(its bytes differ/);
        expect(merge.code).toBe(2);
        expect(existsSync(join(folder, "merged.jsonl"))).toBe(false);
    });

    it("shards of another input, or scored with other settings (--field, --precise, another template), are refused", async () => {
        const folder = newDir("mixed");
        const a = join(folder, "a.jsonl"), b = join(folder, "b.jsonl");
        writeFileSync(a, rows(4));
        writeFileSync(b, rows(4, "changed "));
        const [a0] = await shardsOf(folder, a, "a");
        const [, b1] = await shardsOf(folder, b, "b");
        const inputs = await runInProcess(["merge", join(folder, "m.jsonl"), a0!, b1!]);
        expect(inputs.stderr).toMatch(/b-1\.jsonl was scored from other input than .*a-0\.jsonl/);
        expect(inputs.code).toBe(2);
        const template = join(folder, "t.jinja");
        writeFileSync(template, "{{ bos_token }}{% for m in messages %}{{ m.role }}: {{ m.content }}\n{% endfor %}");
        for (const other of [["--field", "score"], ["--precise"], ["--chat-template", template]]) {
            const parts = await shardsOf(folder, a, `s${other[0]!.slice(2)}`, [[], other]);
            const merge = await runInProcess(["merge", join(folder, "m.jsonl"), ...parts]);
            expect(merge.stderr, other.join(" ")).toMatch(/-1\.jsonl was scored with other settings than .*-0\.jsonl/);
            expect(merge.code).toBe(2);
        }
        expect(existsSync(join(folder, "m.jsonl"))).toBe(false);
    });

    it("shards of a header-only CSV merge to the header the unsharded run writes", async () => {
        const folder = newDir("header-only");
        const source = join(folder, "h.csv");
        writeFileSync(source, "prompt,response,label\n");
        const whole = join(folder, "whole.csv");
        expect((await runInProcess(["score", source, "-m", tinyModel, "-o", whole])).code).toBe(0);
        const parts = [0, 1].map((k) => join(folder, `part-${k}.csv`));
        for (const [k, part] of parts.entries()) expect((await runInProcess(["score", source, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        const merged = join(folder, "merged.csv");
        expect((await runInProcess(["merge", merged, ...parts])).code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(readFileSync(whole, "utf8"));
        expect(readFileSync(merged, "utf8")).toBe("prompt,response,label,reward,special_tokens_in_content,error\n");
    });

    it("CSV/TSV shards take their columns from the input's first record, as one run does, whichever shard holds it", async () => {
        const folder = newDir("first-record");
        const conversation = (answer: string) => ({ messages: [{ role: "user", content: "q" }, { role: "assistant", content: answer }] });
        const inputs = {
            // the first record has a field the others lack; one not JSON and one with no record come before it
            "fields.jsonl": ["not json", JSON.stringify({ ...conversation("a"), extra: 1 }), JSON.stringify(conversation("b")), JSON.stringify(conversation("c"))],
            "none-first.jsonl": ["bad0", JSON.stringify({ id: 1, ...conversation("a") }), "bad2", JSON.stringify({ id: 3, ...conversation("b") })],
        };
        const runs = [["fields.jsonl", "csv", 2], ["none-first.jsonl", "tsv", 3]] as const;
        for (const [name, format, count] of runs) {
            const source = join(folder, name);
            writeFileSync(source, `${inputs[name].join("\n")}\n`);
            const whole = join(folder, `${name}.whole.${format}`);
            await runInProcess(["score", source, "-m", tinyModel, "-o", whole]);
            const parts = Array.from({ length: count }, (_, k) => join(folder, `${name}.${k}-${count}.${format}`));
            for (const [k, part] of parts.entries()) await runInProcess(["score", source, "-m", tinyModel, "--shard", `${k}/${count}`, "-o", part]);
            const merged = join(folder, `${name}.merged.${format}`);
            const merge = await runInProcess(["merge", merged, ...parts]);
            expect(merge.stderr, name).not.toMatch(/error/);
            expect(readFileSync(merged, "utf8"), name).toBe(readFileSync(whole, "utf8"));
        }
    });
});

describe("--shard auto: each scheduler's array task finds its part, and parts merge to one run's bytes", () => {
    const small = join(tmp, "small.jsonl");
    writeFileSync(small, dataset(90));
    const smallOutput = uninterruptedOutput(small);
    // the variables each scheduler gives task k of 3 (Slurm: --array=1-5:2, ids 1, 3, 5)
    const schedulers: Record<string, (k: number) => Record<string, string>> = {
        slurm: (k) => ({ SLURM_ARRAY_TASK_ID: String(1 + 2 * k), SLURM_ARRAY_TASK_MIN: "1", SLURM_ARRAY_TASK_MAX: "5", SLURM_ARRAY_TASK_STEP: "2", SLURM_ARRAY_TASK_COUNT: "3" }),
        kubernetes: (k) => ({ JOB_COMPLETION_INDEX: String(k) }),
        aws: (k) => ({ AWS_BATCH_JOB_ARRAY_INDEX: String(k), AWS_BATCH_JOB_ARRAY_SIZE: "3" }),
    };

    it.each(Object.keys(schedulers))("%s: every task started twice at once (a replacement pod, a requeue), then again: exactly its rows; merge of the folder", async (name) => {
        const folder = newDir(`auto-${name}`);
        const shardFlag = name === "kubernetes" ? "auto/3" : "auto";
        const args = ["score", small, "-m", tinyModel, "-q", "--threads", "1", "--shard", shardFlag, "-o", join(folder, "part-{shard}-of-{shards}.jsonl")];
        const runs = await Promise.all([0, 1, 2].flatMap((k) => [runBuiltCli(args, "", schedulers[name]!(k)), runBuiltCli(args, "", schedulers[name]!(k))]));
        for (const [i, run] of runs.entries()) {
            // the second copy of a task is refused while the first writes (75: retry later), or finds the part complete
            expect([0, 75], run.stderr).toContain(run.code);
            if (run.code === 75) expect(run.stderr).toMatch(/is being written by another run/);
            if (i % 2 === 1) expect([runs[i - 1]!.code, run.code]).toContain(0);
        }
        // the scheduler starts the task again: it finds its part complete, loads no model and changes no byte
        const before = snapshot(folder);
        const again = await runBuiltCli(args.filter((arg) => arg !== "-q"), "", schedulers[name]!(1));
        expect(again.code).toBe(0);
        expect(again.stderr).toMatch(/^nemoreward: shard 1\/3 is complete in .*part-1-of-3\.jsonl \(30 rows\): nothing to do\n$/);
        expect(snapshot(folder)).toEqual(before);
        expect(readdirSync(folder).filter((f) => f.endsWith(".jsonl")).sort()).toEqual(["part-0-of-3.jsonl", "part-1-of-3.jsonl", "part-2-of-3.jsonl"]);
        const merged = join(tmp, `merged-${name}.jsonl`);
        const merge = await runInProcess(["merge", merged, folder]);
        expect(merge.stderr).toMatch(/merged 90 rows from 3 shards/);
        expect(readFileSync(merged, "utf8")).toBe(await smallOutput());
    });

    it("no scheduler's variables: refused at once (exit 2), one line naming what was looked for", async () => {
        const run = await runInProcess(["score", small, "-m", tinyModel, "--shard", "auto", "-o", join(tmp, "none-{shard}.jsonl")]);
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/^nemoreward: error: --shard auto: no scheduler's array variables are set \(looked for SLURM_ARRAY_TASK_ID.*CLOUD_RUN_TASK_INDEX.*\): give --shard K\/N\n$/);
    });

    it("merge while a part is still being written: exit 75 (retry later) naming it; once written, the merge goes through", async () => {
        const folder = newDir("merge-busy");
        const parts = [0, 1].map((k) => join(folder, `part-${k}.jsonl`));
        expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", "0/2", "-o", parts[0]!])).code).toBe(0);
        const writing = heldRun(["--shard", "1/2", "-o", parts[1]!]);
        await claimed(parts[1]!);
        const merged = join(folder, "merged.jsonl");
        const busy = await runInProcess(["merge", merged, folder]);
        expect(busy.stderr).toMatch(new RegExp(`^nemoreward: error: ${parts[1]!.replace(/[.]/g, "[.]")} is being written by another run \\(pid \\d+ on .*\\): wait for it to finish`));
        expect(busy.code).toBe(75);
        expect(existsSync(merged)).toBe(false);
        expect((await writing.finish()).code).toBe(0);
        const merge = await runInProcess(["merge", merged, folder]);
        expect(merge.stderr).toMatch(/merged 5 rows from 2 shards/);
    });

    it("merge of a quoted pattern names every part that is missing or short, and writes nothing", async () => {
        const folder = newDir("merge-problems");
        const parts = [0, 1, 2, 3].map((k) => join(folder, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries()) expect((await runInProcess(["score", small, "-m", tinyModel, "--shard", `${k}/4`, "-o", part])).code).toBe(0);
        rmSync(parts[1]!);
        rmSync(`${parts[1]!}.shard`);
        // what a run killed part-way leaves: its record not complete
        const record = JSON.parse(readFileSync(`${parts[3]!}.shard`, "utf8")) as Record<string, unknown>;
        writeFileSync(`${parts[3]!}.shard`, `${JSON.stringify({ index: record.index, count: record.count, rows: 7, complete: false })}\n`);
        const merged = join(tmp, "problems.jsonl");
        const merge = await runInProcess(["merge", merged, join(folder, "part-*")]);
        expect(merge.code).toBe(2);
        expect(merge.stderr).toBe(`nemoreward: error: cannot merge: shard 1/4 is missing; ${parts[3]} is short: the run of shard 3/4 did not finish; resume it first\n`);
        expect(existsSync(merged)).toBe(false);
        expect((await runInProcess(["merge", merged, join(folder, "nothing-*")])).stderr).toMatch(/no file matches .*nothing-\*/);
    });
});

describe("Parquet parts", () => {
    it("a sharded Parquet run, one shard killed with SIGKILL mid-run and resumed, merges to the rows and types of one uninterrupted run (DuckDB)", { timeout: 600_000 }, async () => {
        const folder = newDir("parquet-shards");
        const source = join(folder, "in.jsonl");
        // rows of 4 KB: under a 64 MB heap a row group holds about 160 of them, so that a shard writes several groups
        const filler = "f".repeat(4000);
        writeFileSync(source, dataset(1500).split("\n").filter((line) => line !== "")
            .map((line, i) => JSON.stringify({ ...JSON.parse(line), filler, ...(i >= 1000 ? { late: i / 2 } : {}) })).join("\n") + "\n");
        const args = (k: number) => ["--max-old-space-size=64", cli, "score", source, "-m", tinyModel, "-q", "--threads", "1", "--shard", `${k}/2`, "-o", join(folder, `part-${k}.parquet`)];
        const part0 = join(folder, "part-0.parquet");
        const killed = spawn(process.execPath, args(0), { stdio: "ignore" });
        const exit = new Promise<string | null>((resolve) => killed.on("exit", (_, signal) => resolve(signal)));
        // once its first row group is in the file (its size no longer 0), and its record says so
        while (!(existsSync(`${part0}.resume`) && readFileSync(`${part0}.resume`, "utf8").split("\n").length > 2)) await new Promise((resolve) => setTimeout(resolve, 5));
        killed.kill("SIGKILL");
        expect(await exit).toBe("SIGKILL");
        const before = readFileSync(`${part0}.resume`, "utf8").trimEnd().split("\n").length - 1;
        expect(before).toBeGreaterThan(0);
        expect(before).toBeLessThan(750);
        const resumed = await runBuiltCli([...args(0).slice(2).filter((arg) => arg !== "-q"), "--resume"]);
        // the rows of the groups the killed run finished (a record line it was writing when killed is not one)
        expect(Number(/resuming after the (\d+) rows already in/.exec(resumed.stderr)?.[1])).toBeGreaterThanOrEqual(before - 1);
        expect(resumed.code).toBe(0);
        const other = await runBuiltCli(args(1).slice(2));
        expect(other.code).toBe(0);
        const merged = join(folder, "merged.parquet"), whole = join(folder, "whole.parquet");
        const merge = await runInProcess(["merge", merged, join(folder, "part-*")]);
        expect(merge.stderr).toMatch(/merged 1500 rows from 2 shards/);
        expect(merge.code).toBe(0);
        expect((await runBuiltCli(["score", source, "-m", tinyModel, "-q", "--threads", "1", "-o", whole])).code).toBe(0);
        expect(await columnTypes(merged)).toEqual(await columnTypes(whole));
        expect(await columnTypes(merged)).toMatchObject({ id: "BIGINT", late: "DOUBLE", reward: "DOUBLE" });
        expect(await duck(`SELECT * FROM '${merged}'`)).toEqual(await duck(`SELECT * FROM '${whole}'`));
        // Parquet parts merge to JSONL too: the rows of the whole run's, as JSON
        const asJsonl = join(folder, "merged.jsonl");
        expect((await runInProcess(["merge", asJsonl, join(folder, "part-*")])).code).toBe(0);
        expect(parseJsonl(readFileSync(asJsonl, "utf8")).map((r) => [r.id, r.reward])).toEqual((await duck(`SELECT id, reward FROM '${whole}'`)).map((r) => [Number(r.id), r.reward]));
    });
});
