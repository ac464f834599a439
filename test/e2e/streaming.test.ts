import { spawn, spawnSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, readFileSync, writeSync } from "node:fs";
import { createInterface } from "node:readline";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { duck } from "../duckdb.js";
import { cli, demoConversations, duckParquet, tinyModel } from "../helpers.js";

// Memory stays flat however many rows go through: each run here gets a heap too small to hold all its rows at once.

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-streaming-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });

const demo = readFileSync(demoConversations, "utf8").split("\n").filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as { messages: { role: string; content: string }[] });
let reference: ReferenceModel;

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
});

describe("memory does not grow with the number of rows", () => {
    it("streams 200,000 rows through a 48 MB heap: every row out, in order, the scored ones matching the reference", async () => {
        // Rows without a conversation are cheap (no engine work) and still travel the whole path: read, process,
        // write. Each carries 400 bytes, so a leak of even a tenth of a row each would pass 48 MB long before the end.
        const rows = 200_000, scoredEvery = 20_000;
        const input = join(tmp, "many.jsonl");
        const fd = openSync(input, "w");
        const filler = "x".repeat(400);
        let chunk = "";
        for (let i = 0; i < rows; i++) {
            const demoRow = demo[(i / scoredEvery) % demo.length]!;
            chunk += JSON.stringify(i % scoredEvery === 0 ? { id: i, messages: demoRow.messages } : { id: i, x: filler }) + "\n";
            if (chunk.length > 1 << 20) {
                writeSync(fd, chunk);
                chunk = "";
            }
        }
        writeSync(fd, chunk);
        closeSync(fd);

        const stdin = openSync(input, "r");
        const child = spawn(process.execPath, ["--max-old-space-size=48", cli, "score", "-", "-m", tinyModel, "--threads", "1", "--precise"],
            { stdio: [stdin, "pipe", "pipe"] });
        closeSync(stdin);
        let stderrTail = "";
        child.stderr.on("data", (c: Buffer) => (stderrTail = (stderrTail + c.toString()).slice(-2000)));
        const exited = new Promise<number | null>((resolve) => child.on("close", resolve));
        let count = 0, outOfOrder = 0;
        const scored: { id: number; reward: unknown }[] = [];
        for await (const line of createInterface({ input: child.stdout })) {
            const row = JSON.parse(line) as { id: number; reward: unknown; error?: string };
            if (row.id !== count) outOfOrder++;
            if (row.id % scoredEvery === 0) scored.push(row);
            else if (row.reward !== null || typeof row.error !== "string") outOfOrder++;
            count++;
        }
        expect(await exited, stderrTail).toBe(3); // finished, some rows not scored
        expect(count).toBe(rows);
        expect(outOfOrder).toBe(0);
        expect(stderrTail).toMatch(new RegExp(`scored ${rows / scoredEvery} of ${rows} rows \\(${rows - rows / scoredEvery} not\\)`));
        expect(scored).toHaveLength(rows / scoredEvery);
        for (const { id, reward } of scored) {
            const messages = demo[(id / scoredEvery) % demo.length]!.messages;
            expect(Math.abs((reward as number) - reference.logits(reference.tokenize(template.render(messages)), [0])[0]!)).toBeLessThan(1e-4);
        }
    });
});

describe("streaming", () => {
    // 8 s on an idle 2-core machine (200,000 error rows, each reported on stderr); more under load
    it("streams 200,000 Parquet rows in and out under a 64 MB heap: all rows out, in order, in several row groups", { timeout: 600_000 }, async () => {
        const input = await duckParquet(join(tmp, "big.parquet"),
            `SELECT i AS id, [{'role': 'user', 'content': 'question number ' || i || ' ' || repeat('x', 100)}] AS messages FROM range(200000) t(i)`,
            ", ROW_GROUP_SIZE 10240");
        const output = join(tmp, "big-out.parquet");
        // rows ending on a user turn: error rows, read and written without the engine. Memory holds one input row group
        // (10,240 rows here, decoded whole by hyparquet: about 10 MB), one output row group (cut by bytes, memory.ts)
        // and what the engine loaded (about 20 MB before any row): the live heap after a full GC peaked at 37-43 MB.
        // 64 MB leaves that real headroom; 200,000 rows kept alive would need more than 100 MB
        // stderr (200,000 warnings) to a file: a pipe read by spawnSync fills, and the warnings then wait in the
        // run's memory, which is not what this measures
        const log = join(tmp, "big.stderr");
        const stderr = openSync(log, "w");
        const run = spawnSync(process.execPath, ["--max-old-space-size=64", "bin/nemoreward.js", "score", input, "-m", tinyModel, "-o", output, "-q"],
            { stdio: ["ignore", "ignore", stderr] });
        closeSync(stderr);
        expect(run.status, readFileSync(log, "utf8").slice(-2000)).toBe(3);
        const [summary] = await duck(`SELECT count(*) AS n, count(error) AS errors FROM '${output}'`);
        expect(summary).toEqual({ n: "200000", errors: "200000" });
        const ids = await duck(`SELECT id FROM '${output}'`);
        expect(ids.every((r, i) => Number(r.id) === i)).toBe(true);
        const groups = await duck(`SELECT DISTINCT row_group_id FROM parquet_metadata('${output}')`);
        expect(groups.length).toBeGreaterThan(10);
    });
});

describe("JSONL to Parquet finds every row's types without holding the rows in memory", () => {
    it("writes 300,000 JSONL rows, whose types change after the first row group, as Parquet under a 64 MB heap, from a file and from standard input", { timeout: 600_000 }, async () => {
        // each row carries 200 bytes: 300,000 held in memory would need far more than 64 MB
        const rows = 300_000;
        const input = join(tmp, "widen.jsonl"), output = join(tmp, "widen-out.parquet");
        const fd = openSync(input, "w");
        const filler = "y".repeat(200);
        let chunk = "";
        for (let i = 0; i < rows; i++) {
            chunk += JSON.stringify({ id: i, score: i < 5000 ? 3 : 3.5, messages: [{ role: "user", content: `q${i}` }], x: filler, ...(i > 250_000 ? { late: i } : {}) }) + "\n";
            if (chunk.length > 1 << 20) {
                writeSync(fd, chunk);
                chunk = "";
            }
        }
        writeSync(fd, chunk);
        closeSync(fd);
        // a file is read twice (every row's types first, then the rows); standard input once, its rows waiting on disk
        for (const from of ["file", "stdin"]) {
            const log = join(tmp, "widen.stderr");
            const stderr = openSync(log, "w"), stdin = openSync(input, "r");
            const run = spawnSync(process.execPath, ["--max-old-space-size=64", "bin/nemoreward.js", "score", from === "file" ? input : "-", "-m", tinyModel, "-o", output, "-q"],
                { stdio: [stdin, "ignore", stderr] });
            closeSync(stderr);
            closeSync(stdin);
            expect(run.status, readFileSync(log, "utf8").slice(-2000)).toBe(3); // rows ending on a user turn: error rows
            const [summary] = await duck(`SELECT count(*) AS n, count(error) AS errors, sum(score) AS score, count(late) AS late,
                bool_and(messages[1].content = 'q' || id) AS messages FROM '${output}'`);
            expect(summary).toEqual({ n: String(rows), errors: String(rows), score: 5000 * 3 + (rows - 5000) * 3.5, late: String(rows - 250_001), messages: true });
            const groups = await duck(`SELECT DISTINCT row_group_id FROM parquet_metadata('${output}')`);
            expect(groups.length).toBeGreaterThan(10);
        }
    });
});
