import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import type { Message } from "../../src/conversation/toConversation.js";
import { columnTypes, duck } from "../duckdb.js";
import { cli, duckParquet, parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-parquet-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let reference: ReferenceModel;
const referenceReward = (messages: Message[]) => reference.logits(reference.tokenize(template.render(messages)), [0])[0]!;
const chat = (prompt: string, response: string): Message[] => [{ role: "user", content: prompt }, { role: "assistant", content: response }];
const sqlString = (s: string) => `'${s.replace(/'/g, "''")}'`;
const sqlMessages = (messages: Message[]) => `[${messages.map((m) => `{'role': ${sqlString(m.role)}, 'content': ${sqlString(m.content)}}`).join(", ")}]`;

const score = (args: string[]) => runInProcess(["score", ...args, "-m", tinyModel, "--precise"]);

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
});

describe("Parquet input", () => {
    // 4,100 rows in row groups of 2,048 (DuckDB's smallest): conversations at the group boundaries, a null, and
    // rows that end on a user turn (error rows the engine never sees) in between
    const scored = new Map<number, Message[]>([
        [0, chat("What is 1+1?", "1+1=2")], [2047, chat("Capital of France?", "Paris.")],
        [2048, chat("Say hi.", "Hello there, friend.")], [4099, chat("2+2?", "4")],
    ]);
    const select = `SELECT CASE ${[...scored].map(([i, m]) => `WHEN i = ${i} THEN ${sqlMessages(m)}`).join(" ")}
        WHEN i = 1 THEN NULL ELSE [{'role': 'user', 'content': 'unanswered ' || i}] END AS messages, i AS id FROM range(4100) t(i)`;

    it.each(["snappy", "gzip", "zstd", "brotli", "lz4_raw", "uncompressed"])("reads %s row group by row group: every row, in order, rewards as the reference", async (codec) => {
        const file = await duckParquet(join(tmp, `codec-${codec}.parquet`), select, `, COMPRESSION ${codec}, ROW_GROUP_SIZE 2048`);
        const groups = await duck(`SELECT DISTINCT row_group_id FROM parquet_metadata('${file}')`);
        expect(groups.length).toBeGreaterThan(1);
        const { code, stdout, stderr } = await score([file]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows.map((r) => r.id)).toEqual([...Array(4100).keys()]);
        for (const [i, messages] of scored) {
            expect(rows[i]!.messages).toEqual(messages);
            expect(rows[i]!.reward).toBeCloseTo(referenceReward(messages), 5);
        }
        expect(rows[1]).toMatchObject({ messages: null, reward: null, error: '"messages" is not a non-empty list of messages' });
        expect(rows[2]).toMatchObject({ reward: null, error: 'the last message of "messages" is from "user", not "assistant": nothing to score' });
        expect(stderr).toMatch(/scored 4 of 4100 rows \(4096 not\)/);
    });

    it("reads every record shape it reads from JSONL, as datasets store them, with the same rewards", async () => {
        const ultra = { prompt: "Capital of France?", chosen: chat("Capital of France?", "Paris."), rejected: chat("Capital of France?", "Lyon") };
        const shapes: [string, string, Record<string, unknown>][] = [
            ["ultrafeedback", `SELECT ${sqlString(ultra.prompt)} AS prompt, ${sqlMessages(ultra.chosen)} AS chosen, ${sqlMessages(ultra.rejected)} AS rejected, ` +
                `${sqlMessages(ultra.chosen)} AS messages, 8.5::DOUBLE AS score_chosen`, { ...ultra, messages: ultra.chosen, score_chosen: 8.5 }],
            ["best-of-n", `SELECT 'Say hi.' AS prompt, ['Hi!', 'Hello there, friend.', 'Yo'] AS responses`,
                { prompt: "Say hi.", responses: ["Hi!", "Hello there, friend.", "Yo"] }],
            ["helpsteer2", `SELECT 'Hi\n<extra_id_1>Assistant\nHello\n<extra_id_1>User\nBye?' AS prompt, 'Bye.' AS response, NULL::VARCHAR AS system, 3::BIGINT AS helpfulness`,
                { prompt: "Hi\n<extra_id_1>Assistant\nHello\n<extra_id_1>User\nBye?", response: "Bye.", system: null, helpfulness: 3 }],
            ["sharegpt", `SELECT [{'from': 'human', 'value': 'Hi'}, {'from': 'gpt', 'value': 'Hello'}] AS conversations`,
                { conversations: [{ from: "human", value: "Hi" }, { from: "gpt", value: "Hello" }] }],
            ["preference", `SELECT 'Say hi.' AS prompt, 'Hi!' AS response_1, 'Yo' AS response_2, -2::BIGINT AS preference_strength`,
                { prompt: "Say hi.", response_1: "Hi!", response_2: "Yo", preference_strength: -2 }],
        ];
        // one file per shape in a folder, against the same records in one JSONL file
        const folder = join(tmp, "shapes");
        mkdirSync(folder);
        for (const [i, [name, select]] of shapes.entries()) await duckParquet(join(folder, `${i}-${name}.parquet`), select);
        const jsonl = join(tmp, "shapes.jsonl");
        writeFileSync(jsonl, shapes.map(([, , record]) => JSON.stringify(record)).join("\n") + "\n");
        const [fromParquet, fromJsonl] = [await score([folder]), await score([jsonl])];
        expect(fromParquet.code).toBe(0);
        const rows = parseJsonl(fromParquet.stdout);
        expect(rows).toEqual(parseJsonl(fromJsonl.stdout));
        expect(rows).toHaveLength(shapes.length);
        const row = rows[0]!;
        expect(row.reward_chosen).toBeCloseTo(referenceReward(ultra.chosen), 5);
        expect(row.reward_rejected).toBeCloseTo(referenceReward(ultra.rejected), 5);
    });

    it("knows a Parquet file by its PAR1 magic whatever its name, and counts its rows from the footer for progress", async () => {
        const file = await duckParquet(join(tmp, "download.bin"), `SELECT 'Say hi.' AS prompt, 'Hi!' AS response FROM range(3)`);
        const { code, stdout, stderr } = await runBuiltCli(["score", file, "-m", tinyModel, "--progress-seconds", "0"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toHaveLength(3);
        expect(stderr).toMatch(/scored 1 of 3 rows/);
    });

    it("keeps column and field names exactly, a leading U+FEFF too (a column \"\\ufeffk\" beside \"k\" is not lost)", async () => {
        const bom = "\ufeff";
        const file = await duckParquet(join(tmp, "bom.parquet"),
            `SELECT 'Say hi.' AS prompt, 'Hi!' AS response, 1 AS k, 2 AS "${bom}k", 3 AS "${bom}", {'${bom}f': 4} AS s`);
        const run = await score([file]);
        expect(run.code).toBe(0);
        const row = parseJsonl(run.stdout)[0]!;
        expect(Object.keys(row)).toEqual(["prompt", "response", "k", `${bom}k`, bom, "s", "reward"]);
        expect([row.k, row[`${bom}k`], row[bom], row.s]).toEqual([1, 2, 3, { [`${bom}f`]: 4 }]);
        const out = join(tmp, "bom-out.parquet");
        expect((await score([file, "-o", out])).code).toBe(0);
        // as bytes: DuckDB's client decodes names as text too
        const hex = (name: string) => Buffer.from(name).toString("hex").toUpperCase();
        expect((await duck(`SELECT to_hex(encode(name)) AS h FROM parquet_schema('${out}')`)).map((r) => r.h))
            .toEqual(["root", "prompt", "response", "k", `${bom}k`, bom, "s", `${bom}f`, "reward", "special_tokens_in_content", "error"].map(hex));
    });

    it("reads a folder in file name order (the Hugging Face layout), skipping files it does not read", async () => {
        const data = join(tmp, "hf", "data");
        mkdirSync(data, { recursive: true });
        await duckParquet(join(data, "train-00001-of-00002.parquet"), `SELECT 'Say hi.' AS prompt, 'row ' || i AS response FROM range(2, 4) t(i)`);
        await duckParquet(join(data, "train-00000-of-00002.parquet"), `SELECT 'Say hi.' AS prompt, 'row ' || i AS response FROM range(0, 2) t(i)`);
        writeFileSync(join(data, "extra.jsonl"), `${JSON.stringify({ prompt: "Say hi.", response: "row 4" })}\n`);
        writeFileSync(join(data, "README.md"), "# not data\n");
        const { code, stdout, stderr } = await runBuiltCli(["score", data, "-m", tinyModel, "--progress-seconds", "0"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout).map((r) => r.response)).toEqual(["row 4", "row 0", "row 1", "row 2", "row 3"]);
        expect(stderr).toMatch(/scored 1 of 5 rows/);
    });

    it("knows Parquet on standard input by its magic as files are, also gzipped: the same rows as the file, and Parquet out keeps its types", async () => {
        const file = join(tmp, "codec-zstd.parquet"); // 4,100 rows in two row groups, written by the first test
        const bytes = readFileSync(file);
        const fromFile = await runBuiltCli(["score", file, "-m", tinyModel, "-q"]);
        expect(fromFile.code).toBe(3);
        const piped = (input: Buffer, args: string[] = []) => new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
            const child = spawn(process.execPath, [cli, "score", "-m", tinyModel, "-q", ...args], { stdio: ["pipe", "pipe", "pipe"] });
            let stdout = "", stderr = "";
            child.stdout.on("data", (c: Buffer) => (stdout += c));
            child.stderr.on("data", (c: Buffer) => (stderr += c));
            child.on("close", (code) => resolve({ code, stdout, stderr }));
            child.stdin.end(input);
        });
        for (const [input, args] of [[bytes, []], [gzipSync(bytes), []], [bytes, ["--input-format", "parquet"]], [bytes, ["-"]]] as const) {
            const run = await piped(input, [...args]);
            expect(run.stderr).not.toMatch(/UTF-8/);
            expect(run.code).toBe(3);
            expect(run.stdout).toBe(fromFile.stdout);
        }
        const out = join(tmp, "stdin-out.parquet");
        expect((await piped(bytes, ["-o", out])).code).toBe(3);
        expect(await columnTypes(out)).toMatchObject({ ...await columnTypes(file), reward: "DOUBLE" });
        expect(await duck(`SELECT messages, id FROM '${out}'`)).toEqual(await duck(`SELECT messages, id FROM '${file}'`));
        // a damaged Parquet on standard input is one error row naming it, as a damaged file is
        const cut = await piped(bytes.subarray(0, 1000));
        expect(cut.code).toBe(3);
        expect(parseJsonl(cut.stdout)).toEqual([expect.objectContaining({ error: expect.stringMatching(/not a readable Parquet file/) })]);
    });
});

describe("Parquet output", () => {
    it("Parquet to Parquet: every input column keeps its type and values, in order; reward and error are added, typed", async () => {
        const input = await duckParquet(join(tmp, "types.parquet"), `SELECT * FROM (VALUES
            (9007199254740993::BIGINT, DATE '2024-07-26', TIMESTAMP '2024-07-26 12:34:56.789123', '\\x00\\xFFab'::BLOB, 3.25::DECIMAL(10,2),
             true, [1, 2, 3]::INTEGER[], {'a': 1, 'b': 'x'}, 1.5::FLOAT, 7::SMALLINT, 'text', ${sqlMessages(chat("Hi", "Hello"))}),
            (NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
            (-1, DATE '1970-01-01', TIMESTAMP '1999-12-31 23:59:59.000001', ''::BLOB, -0.01, false, [], {'a': NULL, 'b': ''}, -2.25, -3, '',
             ${sqlMessages(chat("Hi", "Yo"))})
        ) t(big, day, ts, raw, price, flag, ints, obj, f, small, s, messages)`);
        const output = join(tmp, "types-out.parquet");
        const { code, stdout } = await score([input, "-o", output]);
        expect(code).toBe(3);
        expect(stdout).toBe("");
        const inputTypes = await columnTypes(input);
        expect(await columnTypes(output)).toEqual({ ...inputTypes, reward: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR" });
        const names = Object.keys(inputTypes).join(", ");
        expect(await duck(`SELECT ${names} FROM '${output}'`)).toEqual(await duck(`SELECT ${names} FROM '${input}'`));
        const added = await duck(`SELECT reward, error FROM '${output}'`);
        expect(added[0]!.reward).toBeCloseTo(referenceReward(chat("Hi", "Hello")), 5);
        expect(added[1]).toEqual({ reward: null, error: '"messages" is not a non-empty list of messages' });
        expect(added[2]!.reward).toBeCloseTo(referenceReward(chat("Hi", "Yo")), 5);
    });

    it("Parquet to JSONL keeps values faithful: INT64 digits exact, bytes as base64, lists and structs as JSON", async () => {
        const { stdout } = await score([join(tmp, "types.parquet")]);
        const lines = stdout.split("\n");
        expect(lines[0]).toMatch(/^\{"big":9007199254740993,"day":"2024-07-26T00:00:00.000Z","ts":1721997296789123,"raw":"AP9hYg==","price":3.25,"flag":true,"ints":\[1,2,3\],"obj":\{"a":1,"b":"x"\},"f":1.5,"small":7,"s":"text",/);
    });

    it("Parquet to CSV: every cell is the value's text (dates, bytes and INT64 as in JSONL, without JSON quotes)", async () => {
        const { stdout } = await score([join(tmp, "types.parquet"), "--format", "csv"]);
        const [header, first] = parse(stdout) as string[][];
        const cells = Object.fromEntries(header!.map((name, i) => [name, first![i]]));
        expect(cells).toMatchObject({ big: "9007199254740993", day: "2024-07-26T00:00:00.000Z", raw: "AP9hYg==", price: "3.25", s: "text", ints: "[1,2,3]" });
    });

    it("JSONL to Parquet to JSONL: DuckDB reads the input fields unchanged, and the rewards are those of the JSONL run", async () => {
        const records = [
            { id: 12345678901234, score: 3.5, note: "a \"quoted\" note, with a comma", flag: true, tags: ["x", "y"], messages: chat("What is 1+1?", "1+1=2") },
            { id: 2, score: -1, note: "ünïcödé ✓", flag: false, tags: [], messages: chat("What is 1+1?", "1+1=3") },
            { id: 3, score: 0.25, note: "", flag: true, tags: ["z"], messages: "not a list" },
        ];
        const jsonl = join(tmp, "round.jsonl");
        writeFileSync(jsonl, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const parquet = join(tmp, "round.parquet");
        const direct = await score([jsonl]);
        expect((await score([jsonl, "-o", parquet])).code).toBe(3);
        expect(await columnTypes(parquet)).toEqual({
            id: "BIGINT", score: "DOUBLE", note: "VARCHAR", flag: "BOOLEAN", tags: "VARCHAR[]", messages: "JSON", reward: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR",
        });
        const read = await duck(`SELECT id, score, note, flag, tags, messages::VARCHAR AS messages, reward FROM '${parquet}'`);
        expect(read.map((r) => ({ ...r, id: Number(r.id), messages: JSON.parse(r.messages), reward: undefined })))
            .toEqual(records.map((r) => ({ ...r, reward: undefined })));
        expect(read.map((r) => r.reward)).toEqual(parseJsonl(direct.stdout).map((r) => r.reward));
        // and back: the records as they were, with the same rewards (and the error column that Parquet, like CSV, always has)
        const back = parseJsonl((await score([parquet, "--format", "jsonl"])).stdout);
        expect(back).toEqual(parseJsonl(direct.stdout).map((row) => ({ special_tokens_in_content: null, error: null, ...row })));
    });

    it("JSONL to Parquet: every row types the columns, not the first row group; no value is written as null or as another number", async () => {
        // 20,000 rows: after row 5,000 (the first row group) and again after row 12,000, values of other types come
        const big = 2n ** 53n + 1n;
        const record = (i: number): Record<string, unknown> => ({
            id: i < 12_000 ? i : `id-${i}`, // integers, then strings: JSON text
            score: i < 5000 ? 3 : 3.5, // integers, then doubles: doubles
            exact: i % 2 === 0 ? 9007199254740993n : -i, // 64-bit integers beyond 2^53: exact integers
            mixed: i === 0 ? 9007199254740993n : i < 6000 ? 1 : 0.5, // such an integer beside doubles: JSON text, never rounded
            ...(i >= 5001 ? { source: `s${i % 3}` } : {}), // a field first seen after the first row group
        });
        const lines = Array.from({ length: 20_000 }, (_, i) => JSON.stringify(record(i), (_, v) => (typeof v === "bigint" ? `@${v}@` : v)).replace(/"@(-?\d+)@"/g, "$1"));
        const input = join(tmp, "widen.jsonl"), output = join(tmp, "widen.parquet");
        writeFileSync(input, lines.join("\n") + "\n");
        const run = await runInProcess(["score", input, "-m", tinyModel, "-o", output, "-q"]);
        expect(run.stderr).not.toMatch(/no column|does not fit/);
        expect(run.code).toBe(3); // the rows hold no conversation: error rows, each saying so
        expect(await columnTypes(output)).toMatchObject({ id: "JSON", score: "DOUBLE", exact: "BIGINT", mixed: "JSON", source: "VARCHAR" });
        const rows = await duck(`SELECT id::VARCHAR AS id, score, exact::VARCHAR AS exact, mixed::VARCHAR AS mixed, source FROM '${output}'`);
        expect(rows).toHaveLength(20_000);
        expect(rows.map((r, i) => r.id === (i < 12_000 ? String(i) : `"id-${i}"`) && r.score === (i < 5000 ? 3 : 3.5) &&
            r.exact === (i % 2 === 0 ? String(big) : String(-i)) && r.source === (i >= 5001 ? `s${i % 3}` : null)).filter((ok) => !ok)).toEqual([]);
        expect(rows.slice(0, 2).map((r) => r.mixed)).toEqual(["9007199254740993", "1"]);
        expect(rows[19_999]!.mixed).toBe("0.5");
    });

    it("JSONL to Parquet: messages is a list of {role, content} structs, as Hugging Face stores it; other nested values keep their structure", async () => {
        const records = [
            { messages: chat("What is 1+1?", "1+1=2"), meta: { lang: "en", turns: 2 }, tags: ["x", "y"], scores: [1, 2.5], odd: { a: 1 } },
            { messages: chat("Capital of France?", "Paris."), meta: { lang: "fr", turns: 2 }, tags: [], scores: [3], odd: { b: "other keys" } },
            { messages: chat("2+2?", "4"), meta: null, tags: ["z"], scores: null, odd: [1] },
        ];
        const input = join(tmp, "nested.jsonl"), output = join(tmp, "nested.parquet");
        writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
        expect((await score([input, "-o", output])).code).toBe(0);
        expect(await columnTypes(output)).toMatchObject({
            messages: 'STRUCT("role" VARCHAR, "content" VARCHAR)[]', meta: 'STRUCT(lang VARCHAR, turns BIGINT)', tags: "VARCHAR[]", scores: "DOUBLE[]",
            odd: "JSON", // objects of other keys, and a list: one column cannot type them all, JSON text holds each
        });
        const read = await duck(`SELECT messages, meta, tags, scores, odd::VARCHAR AS odd, reward FROM '${output}'`);
        // BIGINT comes back from DuckDB as text
        expect(read.map(({ reward: _, odd, meta, ...r }) => ({ ...r, meta: meta && { ...meta, turns: Number(meta.turns) }, odd: JSON.parse(odd) }))).toEqual(records);
        read.forEach((r, i) => expect(r.reward).toBeCloseTo(referenceReward(records[i]!.messages), 5));
        // the same structs as DuckDB writes them: Parquet written by nemoreward scores as Hugging Face's does
        const back = parseJsonl((await score([output, "--format", "jsonl"])).stdout);
        expect(back.map((r) => r.messages)).toEqual(records.map((r) => r.messages));
    });

    it("CSV to Parquet: every column a string, as read; --rank adds rank as an integer", async () => {
        const csv = join(tmp, "in.csv");
        writeFileSync(csv, 'prompt,response,helpfulness\nSay hi.,"Hi, you!",3\nSay hi.,Yo,\n');
        const parquet = join(tmp, "csv.parquet");
        expect((await score([csv, "-o", parquet, "--rank"])).code).toBe(0);
        expect(await columnTypes(parquet)).toEqual({ prompt: "VARCHAR", response: "VARCHAR", helpfulness: "VARCHAR", reward: "DOUBLE", rank: "INTEGER", z: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR" });
        const rows = await duck(`SELECT prompt, response, helpfulness, rank FROM '${parquet}'`);
        const hi = referenceReward(chat("Say hi.", "Hi, you!")), yo = referenceReward(chat("Say hi.", "Yo"));
        expect(rows).toEqual([
            { prompt: "Say hi.", response: "Hi, you!", helpfulness: "3", rank: hi > yo ? 1 : 2 },
            { prompt: "Say hi.", response: "Yo", helpfulness: "", rank: hi > yo ? 2 : 1 },
        ]);
    });

    it("best-of-N rewards are a list of doubles", async () => {
        const parquet = join(tmp, "bon-out.parquet");
        expect((await score([join(tmp, "shapes", "1-best-of-n.parquet"), "-o", parquet])).code).toBe(0);
        expect(await columnTypes(parquet)).toMatchObject({ responses: "VARCHAR[]", rewards: "DOUBLE[]", best: "INTEGER" });
        const [row] = await duck(`SELECT rewards FROM '${parquet}'`);
        ["Hi!", "Hello there, friend.", "Yo"].forEach((r, i) => expect(row!.rewards[i]).toBeCloseTo(referenceReward(chat("Say hi.", r)), 5));
    });

    it("--resume and --shard with Parquet output from standard input are refused with one line (exit 2): the input is read twice", async () => {
        for (const flags of [["--resume"], ["--shard", "0/2"]]) {
            const { code, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel, "-o", join(tmp, "no.parquet"), ...flags], "{}\n");
            expect(code).toBe(2);
            expect(stderr.trim().split("\n")).toEqual([`nemoreward: error: ${flags[0]} with Parquet output reads its input twice (every row's types first, so that every run ` +
                "and shard writes the same columns): give input files, not standard input or a pipe"]);
        }
    });
});
