/**
 * `nemoreward filter` cases of `npm run bench`: rows/s and peak RSS over rows already scored (no model), at 100,000
 * and 1,000,000 rows, so that memory flat in the number of rows shows as a ratio near 1.
 */
import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { dir, fmt, run, text } from "./harness.js";

const quick = process.env["BENCH_QUICK"] === "1";
const filter = (...args: string[]) => ["node", "bin/nemoreward.js", "filter", ...args, "-q"];
const rows = (line: string) => process.stdout.write(`${line}\n`);

/** Best-of-8 rows as `score` writes them: prompt_id, sample_idx, prompt, response, reward. */
async function scoredRows(n: number): Promise<string> {
    const path = `${dir}/filter-${n}.jsonl`;
    const out = createWriteStream(path);
    const prompts = Array.from({ length: 64 }, () => text(200));
    const responses = Array.from({ length: 64 }, () => text(200));
    for (let i = 0; i < n; i++) {
        const line = JSON.stringify({ prompt_id: i >> 3, sample_idx: i & 7, prompt: prompts[(i >> 3) % 64], response: responses[i % 61],
            reward: Math.fround(Math.sin(i) * 4) }) + "\n";
        if (!out.write(line)) await once(out, "drain");
    }
    out.end();
    await once(out, "finish");
    return path;
}

rows("\n| filter case (no model) | rows/s | peak RSS |\n|---|---|---|");
const sizes = quick ? [10_000, 100_000] : [100_000, 1_000_000];
const peaks: number[] = [];
for (const n of sizes) {
    const jsonl = await scoredRows(n);
    const parquet = `${dir}/filter-${n}.parquet`;
    const cases: [string, string[]][] = [
        [`JSONL → JSONL, --min-reward 0 --rejects (${n.toLocaleString("en")} rows)`,
            filter(jsonl, "--min-reward", "0", "-o", `${dir}/filter-kept.jsonl`, "--rejects", `${dir}/filter-dropped.jsonl`)],
        [`JSONL → Parquet, --min-reward -10 (${n.toLocaleString("en")} rows)`, filter(jsonl, "--min-reward", "-10", "-o", parquet)],
        [`Parquet → Parquet, --top-k 1 --group-by prompt_id (${n.toLocaleString("en")} rows)`,
            filter(parquet, "--top-k", "1", "--group-by", "prompt_id", "-o", `${dir}/filter-best.parquet`)],
    ];
    for (const [name, args] of cases) {
        const r = run(args);
        rows(`| ${name} | ${fmt(n / r.seconds)} | ${fmt(r.peakMiB ?? NaN)} MiB |`);
        if (name.startsWith("JSONL → JSONL")) peaks.push(r.peakMiB ?? NaN);
    }
}
rows(`| peak RSS of JSONL → JSONL, ${sizes[1]!.toLocaleString("en")} rows vs ${sizes[0]!.toLocaleString("en")} | ${fmt(peaks[1]! / peaks[0]!, 2)}× | |`);
