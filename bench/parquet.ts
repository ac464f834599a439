/**
 * Parquet cases of `npm run bench`: rows/s reading and writing Parquet against JSONL for the same rows (tiny model),
 * and peak RSS for a 200,000-row Parquet file against a 20,000-row one (memory must not grow with the file).
 */
import { writeFileSync } from "node:fs";
import type { SchemaElement } from "hyparquet";
import { parquetWriteFile } from "hyparquet-writer";
import { best, conversation, dir, fmt, run, text, type Conversation } from "./harness.js";

const quick = process.env["BENCH_QUICK"] === "1";
const tinyModel = "fixtures/models/tiny-reward.gguf";
// one thread: the tiny model needs no more, and spinning llama.cpp threads crawl on a shared machine
const threads = "1";
const cli = (input: string, ...flags: string[]) => ["node", "bin/nemoreward.js", "score", input, "-m", tinyModel, "--threads", threads, "-q", ...flags];

const messagesSchema: SchemaElement[] = [
    { name: "root", num_children: 2 },
    { name: "id", type: "INT64", repetition_type: "OPTIONAL" },
    { name: "messages", repetition_type: "OPTIONAL", num_children: 1, converted_type: "LIST" },
    { name: "list", repetition_type: "REPEATED", num_children: 1 },
    { name: "element", repetition_type: "OPTIONAL", num_children: 2 },
    { name: "role", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
    { name: "content", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
];

/** The same conversations as JSONL and as Parquet (messages as list<struct<role, content>>, as datasets store them). */
function writeBoth(name: string, conversations: Conversation[]): { jsonl: string; parquet: string } {
    const jsonl = `${dir}/${name}.jsonl`, parquet = `${dir}/${name}.parquet`;
    writeFileSync(jsonl, conversations.map((c, i) => JSON.stringify({ id: i, ...c })).join("\n") + "\n");
    parquetWriteFile({
        filename: parquet,
        schema: messagesSchema,
        columnData: [
            { name: "id", data: conversations.map((_, i) => BigInt(i)) },
            { name: "messages", data: conversations.map((c) => c.messages) },
        ],
        rowGroupSize: 10_000,
    });
    return { jsonl, parquet };
}

const rows = (line: string) => process.stdout.write(`${line}\n`);
rows("\n| Parquet case | rows/s | vs JSONL → JSONL | peak RSS |\n|---|---|---|---|");

// Reading and writing: the same tiny rows scored with the tiny model, each way.
{
    const n = quick ? 200 : 1000;
    const { jsonl, parquet } = writeBoth("parquet-rows", Array.from({ length: n }, () => conversation(text(40), text(30))));
    const reps = quick ? 1 : 2;
    const base = best(reps, cli(jsonl, "--format", "jsonl", "-o", `${dir}/out.jsonl`));
    rows(`| JSONL → JSONL (${n} rows) | ${fmt(n / base.seconds, 1)} | 100% | ${fmt(base.peakMiB ?? NaN)} MiB |`);
    for (const [label, input, output] of [
        ["Parquet → JSONL", parquet, "out.jsonl"], ["JSONL → Parquet", jsonl, "out.parquet"], ["Parquet → Parquet", parquet, "out.parquet"],
    ] as const) {
        const r = best(reps, cli(input, "-o", `${dir}/${output}`));
        rows(`| ${label} (${n} rows) | ${fmt(n / r.seconds, 1)} | ${fmt(100 * base.seconds / r.seconds)}% | ${fmt(r.peakMiB ?? NaN)} MiB |`);
    }
}

// Memory: 10× the rows must not take 10× the memory. Rows are read, rendered, tokenized and written, not evaluated
// (a 16-token context skips them all), so that 200,000 of them take a minute, not hours.
{
    const sizes = quick ? [2_000, 20_000] : [20_000, 200_000];
    const peaks = sizes.map((n) => {
        const { parquet } = writeBoth(`parquet-${n}`, Array.from({ length: n }, (_, i) => conversation(`question ${i} ${text(60)}`, text(60))));
        const r = run(cli(parquet, "--context-size", "16", "--on-overlong", "skip", "-o", `${dir}/out-${n}.parquet`));
        rows(`| ${n} rows from Parquet to Parquet, not evaluated | ${fmt(n / r.seconds)} | | ${fmt(r.peakMiB ?? NaN)} MiB |`);
        return r.peakMiB ?? NaN;
    });
    rows(`| peak RSS, ${sizes[1]} rows vs ${sizes[0]} | ${fmt(peaks[1]! / peaks[0]!, 2)}× | | |`);
}
