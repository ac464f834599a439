import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { Flags } from "../../src/plan/flags.js";
import { plan, type CommandName } from "../../src/plan/plan.js";
import { demoConversations, tinyModel } from "../helpers.js";

/** What Commander gives when the user typed these flags (the table's defaults filled in). */
const flags = (given: Partial<Flags>): Flags => ({
    promptField: "prompt", responseField: "response", systemField: "system", maxRecordMb: 64, contentSpecial: "special", progressSeconds: 5,
    model: tinyModel, ...given,
});
const tty = { stdinIsTTY: false, stdoutIsTTY: false };
const planOf = (command: CommandName, given: Partial<Flags>, inputs = [demoConversations], context = tty) => plan(command, inputs, flags(given), context);

describe("the rules between flags, checked before anything runs", () => {
    it.each<[CommandName, Partial<Flags>, string]>([
        ["score", { rejects: "r.jsonl" }, "--rejects goes with --min-reward, --max-reward or --top-k"],
        ["score", { minReward: 0, resume: true, output: "o.jsonl" }, "--min-reward, --max-reward and --top-k cannot be combined with --resume: filter the finished output instead"],
        ["score", { topK: 1, shard: { index: 0, count: 2 } }, "--min-reward, --max-reward and --top-k cannot be combined with --shard: merge the shards, then filter"],
        ["score", { groupBy: "id" }, "--group-by goes with --rank or --top-k"],
        ["score", { rank: true, resume: true, output: "o.jsonl" }, "--rank cannot be combined with --resume: a group is written only when it is complete"],
        ["score", { rank: true, shard: { index: 0, count: 2 } }, "--rank cannot be combined with --shard: shards take every Nth row, splitting groups"],
        ["score", { resume: true }, "--resume needs -o FILE: it continues that file"],
        ["score", { resume: true, output: "o.json" }, "--resume works with jsonl, csv, tsv and parquet output, not json"],
        ["score", { shard: { index: 0, count: 2 }, format: "table" }, "--shard writes parts that `nemoreward merge` joins row by row: write jsonl, csv, tsv or parquet, not table"],
        ["score", { field: "error" }, "--field error: the reward field would be named like nemoreward's own \"error\"; choose another name"],
        ["score", { field: "z" }, "--field z: the reward field would be named like nemoreward's own \"z\"; choose another name"],
        ["score", { field: "__proto__" }, "--field __proto__: JavaScript objects cannot hold a field of that name as data; choose another name"],
        ["score", { field: "nemoreward_score" }, "--field nemoreward_score: names beginning with nemoreward_ are nemoreward's own; choose another"],
        ["eval", { output: "report.csv" }, "eval writes a report, not csv: name -o FILE .json (JSON) or .txt (the table); --per-row FILE for the scored rows"],
        ["eval", { resume: true, output: "report.json" }, "eval --resume needs --per-row FILE: it continues that file, and the report counts its rows"],
        ["eval", { shard: { index: 0, count: 2 } }, "eval --shard needs --per-row FILE: `nemoreward merge` joins the parts, then `nemoreward eval` of the merged file reports"],
        ["eval", { maxTokens: 5000 }, "--max-tokens 5000 is over the 4096-token context: raise --context-size"],
        ["pairs", { output: "pairs.csv" }, "pairs writes JSONL, JSON or Parquet, not csv: name -o FILE.jsonl or FILE.parquet"],
        ["pairs", { scored: true, model: "m.gguf" }, "--scored pairs the rewards the rows already hold (--field): it loads no model; leave out -m, or leave out --scored to score again"],
        ["filter", {}, "filter needs --min-reward, --max-reward, --top-k or --rank: what to keep"],
        ["filter", { minReward: 0, groupBy: "id" }, "--group-by goes with --rank or --top-k"],
        ["score", { workers: 100_000 }, "--workers 100000: this process may use"],
        ["score", { workers: 2, gpus: "all" }, "--workers and --gpus cannot be combined: --gpus starts a worker per GPU"],
        ["score", { gpus: ["0", "1"], gpu: "cpu" }, "--gpus starts a worker per CUDA device; it cannot go with --gpu cpu"],
        ["score", { fixedThreads: true, threads: "auto" }, "--fixed-threads needs --threads N: the number of threads to keep"],
        ["score", { output: "part-{shard}.jsonl" }, "-o part-{shard}.jsonl: {shard} and {shards} name a shard's part; give --shard K/N or --shard auto"],
        ["score", { output: "scored.xlsx" }, "cannot tell the format of scored.xlsx: name it .jsonl, .ndjson, .json, .csv, .tsv, .parquet or .txt, or give --format"],
    ])("%s %j: %s", async (command, given, message) => {
        await expect(planOf(command, given)).rejects.toThrow(message);
    });

    it("eval of rows an earlier run scored: no model without -m, and nothing for --per-row, --resume or --shard to do; with -m, scored again", async () => {
        const dir = mkdtempSync(join(tmpdir(), "nemoreward-plan-"));
        const scored = join(dir, "scored.jsonl");
        writeFileSync(scored, `${JSON.stringify({ prompt: "p", chosen: "a", rejected: "b", reward_chosen: 1, reward_rejected: 0, margin: 1 })}\n`);
        const p = await planOf("eval", { model: undefined }, [scored]);
        expect(p.evaluation).toMatchObject({ scored: true, maxTokens: "unknown" });
        await expect(planOf("eval", { model: undefined, perRow: join(dir, "rows.jsonl") }, [scored])).rejects.toThrow(/holds rows already scored .*give -m MODEL to score them again/);
        expect((await planOf("eval", {}, [scored])).evaluation!.scored).toBe(false);
        expect((await planOf("eval", { maxTokens: 2048, shard: { index: 1, count: 2 }, perRow: "rows.jsonl" })).outputs[0]).toMatchObject({ flag: "--per-row", path: "rows.jsonl", shard: { index: 1, count: 2 } });
    });

    it("Parquet output with --resume or --shard reads its input twice: files only, not standard input", async () => {
        for (const given of [{ resume: true }, { shard: { index: 1, count: 2 } }]) {
            await expect(planOf("score", { ...given, output: "o.parquet" }, ["-"])).rejects.toThrow(
                `${"resume" in given ? "--resume" : "--shard"} with Parquet output reads its input twice (every row's types first, so that every run and shard writes the same columns): give input files, not standard input or a pipe`);
            await expect(planOf("score", { ...given, output: join(mkdtempSync(join(tmpdir(), "nemoreward-plan-")), "o.parquet") })).resolves.toBeDefined();
        }
    });

    it("Parquet to a terminal is refused; redirected, it is written", async () => {
        await expect(planOf("score", { format: "parquet" }, [demoConversations], { stdinIsTTY: false, stdoutIsTTY: true }))
            .rejects.toThrow("Parquet is binary: give -o FILE.parquet, or redirect standard output");
        expect((await planOf("score", { format: "parquet" })).outputs[0]!.format).toBe("parquet");
    });

    it("no input and a terminal on stdin: one line saying what to give", async () => {
        await expect(plan("score", [], flags({}), { stdinIsTTY: true, stdoutIsTTY: false })).rejects.toThrow("no input: name a file, or pipe one to standard input ('-')");
    });

    it("a chat template that cannot be read, does not parse or fails on a plain conversation is a usage error of the plan", async () => {
        const dir = mkdtempSync(join(tmpdir(), "nemoreward-plan-"));
        const broken = join(dir, "broken.jinja"), raising = join(dir, "raising.jinja");
        writeFileSync(broken, "{% for m in messages %}");
        writeFileSync(raising, "{{ raise_exception('no') }}");
        await expect(planOf("score", { chatTemplate: join(dir, "none.jinja") })).rejects.toThrow(/^cannot read chat template .*none\.jinja/);
        await expect(planOf("score", { chatTemplate: broken })).rejects.toThrow(/^chat template .*broken\.jinja: the chat template does not parse/);
        await expect(planOf("score", { chatTemplate: raising })).rejects.toThrow(/^chat template .*raising\.jinja: the chat template failed/);
    });
});

describe("what the plan decides", () => {
    it("the rows' format: --format, else -o's extension, else a table on a terminal, else like the input (CSV/TSV), else JSONL", async () => {
        const dir = mkdtempSync(join(tmpdir(), "nemoreward-plan-"));
        const csv = join(dir, "in.csv");
        writeFileSync(csv, "prompt,response\nHi,Yo\n");
        const formatOf = async (given: Partial<Flags>, inputs = [demoConversations], context = tty) => (await planOf("score", given, inputs, context)).outputs[0]!.format;
        expect(await formatOf({ format: "tsv", output: "x.csv" })).toBe("tsv");
        expect(await formatOf({ output: "x.parquet" })).toBe("parquet");
        expect(await formatOf({}, [demoConversations], { stdinIsTTY: false, stdoutIsTTY: true })).toBe("table");
        expect(await formatOf({}, [csv])).toBe("csv");
        expect(await formatOf({ inputFormat: "tsv" }, ["-"])).toBe("tsv");
        expect(await formatOf({})).toBe("jsonl");
    });

    it("records (.resume) only for a row-by-row file a run can continue: not with --rank or filters, not for Parquet", async () => {
        const records = async (given: Partial<Flags>) => (await planOf("score", given)).outputs[0]!.records !== undefined;
        expect(await records({ output: "x.jsonl" })).toBe(true);
        expect(await records({ output: "x.csv" })).toBe(true);
        expect(await records({ output: "x.parquet" })).toBe(false);
        expect(await records({ output: "x.jsonl", rank: true })).toBe(false);
        expect(await records({ output: "x.jsonl", minReward: 0 })).toBe(false);
        expect(await records({})).toBe(false);
    });

    it("the fields each command adds, in order, error last", async () => {
        const names = async (command: CommandName, given: Partial<Flags>, kind: "single" | "pair" | "bestOfN" = "single") =>
            (await planOf(command, given)).layout(kind).map((f) => f.name);
        expect(await names("score", {})).toEqual(["reward", "special_tokens_in_content", "error"]);
        expect(await names("score", { rank: true, onOverlong: "skip", field: "score" })).toEqual(["score", "rank", "z", "skipped", "special_tokens_in_content", "error"]);
        expect(await names("score", {}, "pair")).toEqual(["reward_1", "reward_2", "margin", "preferred", "special_tokens_in_content", "error"]);
        expect(await names("score", { onOverlong: "truncate" }, "bestOfN")).toEqual(["rewards", "best", "truncated", "special_tokens_in_content", "error"]);
        expect(await names("render", {}, "bestOfN")).toEqual(["rendered", "n_tokens", "error"]);
    });

    it("eval writes its report to -o or stdout, and its rows to --per-row only", async () => {
        const p = await planOf("eval", { json: true, perRow: "rows.csv" });
        expect(p.outputs.map((o) => [o.flag, o.path, o.format])).toEqual([["--per-row", "rows.csv", "csv"], ["-o", undefined, "json"]]);
        expect(p.report).toEqual({ flag: "-o", json: true });
        expect((await planOf("eval", { output: "r.txt" })).outputs.map((o) => [o.flag, o.format])).toEqual([["-o", "table"]]);
    });
});
