import { execFileSync, spawn } from "node:child_process";
import { closeSync, constants, mkdtempSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { cli, demoConversations, jsonl, parseJsonl, referenceRewards, runBuiltCli, runInProcess, stderrLines, tinyModel } from "../helpers.js";

const dir = "fixtures/formats";
const tmp = mkdtempSync(join(tmpdir(), "nemoreward-inputs-"));
const rewardOf = referenceRewards();
const rewardsOf = (rows: Record<string, any>[]) => rows.map((r) => r.reward);

describe("every input shape and file format gives the same rewards for the same conversations", () => {
    it("HelpSteer2 CSV (multi-turn prompt), ShareGPT JSONL, a JSON array, gzipped JSONL", async () => {
        const gz = join(tmp, "sharegpt.jsonl.gz");
        writeFileSync(gz, gzipSync(readFileSync(`${dir}/sharegpt.jsonl`)));
        const shareGpt = await runInProcess(["score", `${dir}/sharegpt.jsonl`, "-m", tinyModel]);
        const fromJson = await runInProcess(["score", `${dir}/messages.json`, "-m", tinyModel]);
        const fromGz = await runInProcess(["score", gz, "-m", tinyModel]);
        const fromCsv = await runInProcess(["score", `${dir}/helpsteer2.csv`, "-m", tinyModel, "--format", "jsonl"]);
        for (const run of [shareGpt, fromJson, fromGz, fromCsv]) expect(run.code).toBe(0);
        const expected = rewardsOf(parseJsonl(shareGpt.stdout));
        expect(expected).toHaveLength(3);
        expect(expected.every((r) => typeof r === "number")).toBe(true);
        expect(rewardsOf(parseJsonl(fromJson.stdout))).toEqual(expected);
        expect(rewardsOf(parseJsonl(fromGz.stdout))).toEqual(expected);
        expect(rewardsOf(parseJsonl(fromCsv.stdout))).toEqual(expected);
        // CSV cells come back as strings, every column kept
        expect(parseJsonl(fromCsv.stdout)[1]).toMatchObject({ helpfulness: "3", verbosity: "2" });
    });

    it("reads TSV prompt/response/system and stdin with --input-format", async () => {
        const tsv = readFileSync(`${dir}/sft.tsv`, "utf8");
        const file = await runInProcess(["score", `${dir}/sft.tsv`, "-m", tinyModel]);
        const piped = await runInProcess(["score", "-", "--input-format", "tsv", "-m", tinyModel], tsv);
        expect(file.code).toBe(0);
        expect(piped.stdout).toBe(file.stdout);
        expect(file.stdout.split("\n")[0]).toBe("system\tprompt\tresponse\treward\tspecial_tokens_in_content\terror");
    });
});

describe("records and messages", () => {
    it("Alpaca rows: instruction (+ input) is the user turn, output the assistant turn", async () => {
        const alpaca = [
            { instruction: "Translate to French.", input: "Good morning", output: "Bonjour" },
            { instruction: "Say hi.", output: "Hi!" },
            { instruction: "Say hi.", input: "", output: "Hi!" },
        ];
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], jsonl(alpaca));
        expect(code).toBe(0);
        expect(stderr).not.toMatch(/warning/);
        const out = parseJsonl(stdout);
        expect(Math.abs(out[0]!.reward - rewardOf("Translate to French.\n\nGood morning", "Bonjour"))).toBeLessThan(1e-4);
        expect(Math.abs(out[1]!.reward - rewardOf("Say hi.", "Hi!"))).toBeLessThan(1e-4);
        expect(out[2]!.reward).toBe(out[1]!.reward);
    });

    it("a row of another shape: the error suggests --prompt-field/--response-field with the row's own field names", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], jsonl([{ id: 7, question: "2+2?", answer: "4" }]));
        expect(code).toBe(3);
        const [row] = parseJsonl(stdout);
        expect(row!.error).toMatch(/no conversation.*--prompt-field question --response-field answer/);
        expect(stderr).toContain("<stdin>:1: no conversation");
        expect(stderr).toContain("--prompt-field question --response-field answer");
        const withFields = await runInProcess(["score", "-", "-m", tinyModel, "--precise", "--prompt-field", "question", "--response-field", "answer"],
            jsonl([{ id: 7, question: "2+2?", answer: "4" }]));
        expect(withFields.code).toBe(0);
        expect(Math.abs(parseJsonl(withFields.stdout)[0]!.reward - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
    });
});

describe("inputs in the wrong clothes", () => {
    const rows = [
        { messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: "4" }] },
        { prompt: "Say hi.", response: "Hi!" },
    ];

    it("a .json file holding JSON Lines (Hugging Face dumps) is read as JSONL", async () => {
        const file = join(tmp, "dump.json");
        writeFileSync(file, jsonl(rows));
        const { code, stdout, stderr } = await runInProcess(["score", file, "-m", tinyModel, "--precise"]);
        expect(code).toBe(0);
        expect(stderr).not.toMatch(/warning|error/);
        const out = parseJsonl(stdout);
        expect(out).toHaveLength(2);
        expect(Math.abs(out[0]!.reward - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
        expect(Math.abs(out[1]!.reward - rewardOf("Say hi.", "Hi!"))).toBeLessThan(1e-4);
    });

    it("CSV piped to stdin without --input-format: one line that says what to pass, no rows", async () => {
        const csv = "prompt,response\n" + Array.from({ length: 3000 }, (_, i) => `question ${i},answer ${i}`).join("\n") + "\n";
        const { code, stdout, stderr } = await runInProcess(["score", "-m", tinyModel, "--quiet"], csv);
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderrLines(stderr)).toEqual([expect.stringMatching(/^nemoreward: error: .*looks like CSV.*--input-format csv/)]);
        const tsv = await runInProcess(["score", "-m", tinyModel, "--quiet"], "prompt\tresponse\nhi\thello\n");
        expect(tsv.code).toBe(2);
        expect(stderrLines(tsv.stderr)).toEqual([expect.stringMatching(/--input-format tsv/)]);
        // with the format given, it is scored
        const given = await runInProcess(["score", "-m", tinyModel, "--input-format", "csv"], "prompt,response\nSay hi.,Hi!\n");
        expect(given.code).toBe(0);
        expect(given.stdout).toMatch(/^prompt,response,reward,special_tokens_in_content,error\nSay hi\.,Hi!,-?\d/);
    });
});

describe("gzip with bytes after the stream", () => {
    it("zero padding: every row, exit 0; garbage: every row, then a warning, exit 0", async () => {
        const demo = readFileSync(demoConversations);
        const expected = parseJsonl((await runInProcess(["score", demoConversations, "-m", tinyModel])).stdout);
        for (const [tail, warning] of [[Buffer.alloc(4096), undefined], [Buffer.from("\x00junk"), /trailing garbage after the gzip data ignored/]] as const) {
            const path = join(tmp, `padded-${tail.length}.jsonl.gz`);
            writeFileSync(path, Buffer.concat([gzipSync(demo), tail]));
            const { code, stdout, stderr } = await runInProcess(["score", path, "-m", tinyModel]);
            expect(parseJsonl(stdout)).toEqual(expected);
            expect(code).toBe(0);
            if (warning === undefined) expect(stderr).not.toMatch(/warning|error/);
            else expect(stderr).toMatch(warning);
        }
    });
});

describe("pipes and devices as inputs", () => {
    it("score <(gzip -dc FILE.gz), a named pipe and /dev/null: read as streams, progress without a total", async () => {
        const plain = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--threads", "1"]);
        expect(plain.code).toBe(0);
        const gz = join(tmp, "demo.jsonl.gz");
        writeFileSync(gz, gzipSync(readFileSync(demoConversations)));
        const substituted = await new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn("bash", ["-c", `exec "$0" "$1" score <(gzip -dc "$2") -m "$3" --threads 1`, process.execPath, cli, gz, tinyModel]);
            let stdout = "", stderr = "";
            child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
            child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
            child.on("close", (code) => resolve({ code, stdout, stderr }));
        });
        expect(substituted.code, substituted.stderr).toBe(0);
        expect(substituted.stdout).toBe(plain.stdout);
        expect(substituted.stderr).toMatch(/scored 5 rows/); // not "of N": a pipe is read once, and not counted first

        // a named pipe keeps the format its name gives
        const fifo = join(tmp, "demo.csv");
        execFileSync("mkfifo", [fifo]);
        const csv = "prompt,response\nWhat is 1+1?,1+1=2\nWhat is 1+1?,1+1=3\n";
        const writing = writeFile(fifo, csv).catch(() => undefined);
        const piped = await runBuiltCli(["score", fifo, "-m", tinyModel, "--threads", "1"]);
        closeSync(openSync(fifo, constants.O_RDONLY | constants.O_NONBLOCK)); // frees the writer, had the run not read
        await writing;
        expect(piped.code, piped.stderr).toBe(0);
        const fromFile = join(tmp, "demo-file.csv");
        writeFileSync(fromFile, csv);
        expect(piped.stdout).toBe((await runBuiltCli(["score", fromFile, "-m", tinyModel, "--threads", "1"])).stdout);

        const empty = await runBuiltCli(["score", "/dev/null", "-m", tinyModel, "--threads", "1"]);
        expect(empty.code, empty.stderr).toBe(0);
        expect(empty.stdout).toBe("");
        expect(empty.stderr).toMatch(/scored 0 rows/);
        // a directory without data files is still no input (one with data files is read: test/e2e/parquet.test.ts)
        const dir = await runBuiltCli(["score", mkdtempSync(join(tmp, "empty-")), "-m", tinyModel, "--threads", "1"]);
        expect(dir.code).toBe(2);
        expect(dir.stderr).toMatch(/holds no \.jsonl, \.ndjson, \.json, \.csv, \.tsv \(optionally \.gz\) or \.parquet file/);
    });
});

describe("hostile input", () => {
    it("random bytes, invalid UTF-8, NUL bytes, deep nesting, a line over the limit: every line accounted for", async () => {
        let seed = 99;
        const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
        const lines: Buffer[] = [
            Buffer.from(readFileSync(demoConversations, "utf8").split("\n")[0]!),
            Buffer.from(Array.from({ length: 300 }, () => Math.floor(random() * 256)).filter((b) => b !== 10)),
            Buffer.from([0xff, 0xfe, 0x7b, 0x22, 0xc3, 0x28, 0x22, 0x7d]),
            Buffer.from('{"messages": [{"role": "user", "content": "a\u0000b"}, {"role": "assistant", "content": "\u0000"}]}'),
            Buffer.from(`${"[".repeat(100_000)}${"]".repeat(100_000)}`),
            Buffer.from(`{"messages": ${"[".repeat(50_000)}${"]".repeat(50_000)}}`),
            Buffer.from(`{"messages": [{"role": "user", "content": "${"x".repeat(2 * 1024 * 1024)}"}]}`),
            Buffer.from(readFileSync(demoConversations, "utf8").split("\n")[1]!),
        ];
        const file = join(tmp, "hostile.jsonl");
        writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
        const nonBlank = readFileSync(file).toString("latin1").split("\n").filter((l) => l.trim() !== "").length;
        const { code, stdout, stderr } = await runBuiltCli(["score", file, "-m", tinyModel, "--max-record-mb", "1"]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(nonBlank);
        expect(typeof rows[0]!.reward).toBe("number");
        expect(typeof rows.at(-1)!.reward).toBe("number");
        expect(rows[6]).toMatchObject({ line: 7, reward: null, error: expect.stringMatching(/over the 1048576-byte limit/) });
        expect(stderr).not.toMatch(/\n\s+at /);
    });

    it("a ragged CSV and an unclosed quote: rows kept, the rest of the file reported once", async () => {
        const file = join(tmp, "ragged.csv");
        writeFileSync(file, 'prompt,response\nQ?,A.\nonly one\nQ?,A.,extra\n"unclosed,A.\nQ?,A.\n');
        const { code, stdout } = await runInProcess(["score", file, "-m", tinyModel, "--format", "jsonl"]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows.map((r) => (r.reward === null ? r.error.slice(0, 20) : "ok"))).toEqual(
            ["ok", "expected 2 columns, ", "expected 2 columns, ", "a quoted field is no"]);
    });

    it("a quote inside an unquoted CSV field is text; an unclosed quote in the first row is reported, not a silent exit 0", async () => {
        const inch = join(tmp, "inch.csv");
        writeFileSync(inch, 'prompt,response\nWhat size?,It has a 5" screen\nQ?,A.\n');
        const scored = await runBuiltCli(["score", inch, "-m", tinyModel, "--format", "jsonl"]);
        expect(scored.code).toBe(0);
        expect(parseJsonl(scored.stdout).map((r) => [r.response, typeof r.reward])).toEqual([['It has a 5" screen', "number"], ["A.", "number"]]);
        const unclosed = join(tmp, "unclosed.csv");
        writeFileSync(unclosed, 'prompt,response\n"What size?,It has a screen\nQ?,A.\n');
        const broken = await runBuiltCli(["score", unclosed, "-m", tinyModel, "--format", "jsonl"]);
        expect(broken.code).toBe(3);
        expect(parseJsonl(broken.stdout)).toMatchObject([{ line: 2, reward: null, error: "a quoted field is not closed: it runs to the end of the file" }]);
        expect(broken.stderr).toMatch(/scored 0 of 1 row \(1 not\)/);
    });
});

describe("an input that fails while it is read", () => {
    it("the rows read before the failure are scored and written, then one error line and exit 1", async () => {
        const lines = readFileSync(demoConversations, "utf8").trim().split("\n");
        const stdin = new Readable({ read() {} });
        const stdout = new PassThrough(), stderr = new PassThrough();
        let out = "", err = "";
        stdout.on("data", (c) => (out += c));
        stderr.on("data", (c) => (err += c));
        stdin.push(lines.join("\n") + "\n");
        // fails once the first row is out: the reader is at work then, and rows are in flight
        stdout.once("data", () => stdin.destroy(new Error("EIO: the disk went away")));
        const code = await main(["node", "nemoreward", "score", "-", "-m", tinyModel, "--format", "json"], { stdin, stdout, stderr, stdinIsTTY: false });
        expect(code).toBe(1);
        // a whole JSON array: the output was finished, not cut off
        expect((JSON.parse(out) as { id: number }[]).map((r) => r.id)).toEqual(lines.map((l) => JSON.parse(l).id));
        expect(err).toMatch(/error: EIO: the disk went away/);
    });
});
