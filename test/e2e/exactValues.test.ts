import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { ByteWriter, ParquetWriter } from "hyparquet-writer";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { columnTypes, duck } from "../duckdb.js";
import { parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

/**
 * A value that comes in goes out exactly, in every output format, or its row is an error row that says why. DuckDB
 * writes the inputs and reads the outputs: it is the independent Parquet implementation here.
 */

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-exact-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let reference: ReferenceModel;
const referenceReward = (prompt: string, response: string) =>
    reference.logits(reference.tokenize(template.render([{ role: "user", content: prompt }, { role: "assistant", content: response }])), [0])[0]!;
const score = (args: string[]) => runInProcess(["score", ...args, "-m", tinyModel, "--precise"]);
const duckParquet = async (name: string, select: string, options = "") => {
    const path = join(tmp, name);
    await duck(`COPY (${select}) TO '${path}' (FORMAT parquet${options})`);
    return path;
};

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
});

describe("Parquet values, out in every format exactly as they came in", () => {
    // one row to score, every column a type that once came out altered or failed the run
    const select = `SELECT 'Say hi.' AS prompt, 'Hello.' AS response,
        1.15::DECIMAL(10,2) AS price, 999999999999999.999::DECIMAL(18,3) AS big_decimal, 12345678901234567890.12::DECIMAL(38,2) AS huge_decimal,
        -0.01::DECIMAL(4,2) AS small_decimal, MAP {1: 'a', 10: 'b', 2: 'c'} AS by_id, INTERVAL '1 month 2 days 3 seconds' AS wait,
        9223372036854775807::BIGINT AS max_bigint, 18446744073709551615::UBIGINT AS max_ubigint, 255::UTINYINT AS byte,
        TIME '12:34:56.789' AS t, TIMESTAMP_NS '2024-01-01 01:02:03.123456789' AS ns, 'f47ac10b-58cc-4372-a567-0e02b2c3d479'::UUID AS u,
        0.1::FLOAT AS f, '{"n": 9007199254740993, "s": "x"}'::JSON AS j,
        {'d': 2.5::DECIMAL(3,1), 'm': MAP {'k': [1, 2]}} AS nested, [1.10::DECIMAL(5,2), NULL] AS decimals`;
    let input: string;
    beforeAll(async () => {
        input = await duckParquet("types.parquet", select);
    });

    it("Parquet to Parquet: every column, DECIMAL, MAP, INTERVAL, UUID, unsigned, nested, reads back equal in DuckDB", async () => {
        const output = join(tmp, "types-out.parquet");
        const run = await score([input, "-o", output]);
        expect(run.stderr).not.toMatch(/warning|error/);
        expect(run.code).toBe(0);
        const types = await columnTypes(input);
        expect(await columnTypes(output)).toEqual({ ...types, reward: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR" });
        const names = Object.keys(types).join(", ");
        expect(await duck(`SELECT count(*) AS n FROM (SELECT ${names} FROM '${input}' EXCEPT SELECT ${names} FROM '${output}')`)).toEqual([{ n: "0" }]);
        const [row] = await duck(`SELECT price::VARCHAR AS price, big_decimal::VARCHAR AS big_decimal, reward FROM '${output}'`);
        expect(row).toMatchObject({ price: "1.15", big_decimal: "999999999999999.999" });
        expect(row!.reward).toBeCloseTo(referenceReward("Say hi.", "Hello."), 5);
    });

    it("Parquet to JSONL: decimals as their exact digits, maps in their order, intervals, JSON as its text", async () => {
        const { code, stdout } = await score([input]);
        expect(code).toBe(0);
        const line = stdout.trim();
        for (const text of ['"price":1.15,', '"big_decimal":999999999999999.999,', '"huge_decimal":12345678901234567890.12,', '"small_decimal":-0.01,',
            '"by_id":{"1":"a","10":"b","2":"c"}', '"wait":{"months":1,"days":2,"milliseconds":3000}', '"max_bigint":9223372036854775807,',
            '"max_ubigint":18446744073709551615,', '"byte":255,', '"u":"f47ac10b-58cc-4372-a567-0e02b2c3d479"', '"j":{"n": 9007199254740993, "s": "x"}',
            '"nested":{"d":2.5,"m":{"k":[1,2]}}', '"decimals":[1.10,null]'])
            expect(line).toContain(text);
    });

    it("Parquet to CSV: each cell the value's exact text", async () => {
        const { code, stdout } = await score([input, "--format", "csv"]);
        expect(code).toBe(0);
        const [row] = parse(stdout, { columns: true }) as Record<string, string>[];
        expect(row).toMatchObject({ price: "1.15", big_decimal: "999999999999999.999", huge_decimal: "12345678901234567890.12", by_id: '{"1":"a","10":"b","2":"c"}',
            max_ubigint: "18446744073709551615", j: '{"n": 9007199254740993, "s": "x"}' });
    });

    it("a double JSON cannot hold (NaN, Infinity): a JSONL error row naming the column; CSV and Parquet keep it", async () => {
        const nan = await duckParquet("nan.parquet", `SELECT 'Say hi.' AS prompt, 'Hello.' AS response, x::DOUBLE AS score FROM (VALUES ('nan'), ('inf'), ('1.5')) t(x)`);
        const jsonl = await score([nan]);
        expect(jsonl.code).toBe(3);
        expect(parseJsonl(jsonl.stdout).map((r) => [r.score, r.reward === null, r.error ?? null])).toEqual([
            [null, true, "column score: NaN cannot be written as JSON"], [null, true, "column score: Infinity cannot be written as JSON"], [1.5, false, null]]);
        expect(jsonl.stderr).toMatch(/nan\.parquet:1: column score: NaN cannot be written as JSON/);
        const csv = await score([nan, "--format", "csv"]);
        expect(csv.code).toBe(0);
        expect((parse(csv.stdout, { columns: true }) as Record<string, string>[]).map((r) => r["score"])).toEqual(["NaN", "Infinity", "1.5"]);
        const out = join(tmp, "nan-out.parquet");
        expect((await score([nan, "-o", out])).code).toBe(0);
        expect(await duck(`SELECT score::VARCHAR AS s FROM '${out}'`)).toEqual([{ s: "nan" }, { s: "inf" }, { s: "1.5" }]);
    });

    it("text that is not UTF-8 in a Parquet string column is an error row naming the column, as in JSONL; the other rows are scored", async () => {
        const bytes = new ByteWriter();
        const writer = new ParquetWriter({
            writer: bytes, schema: [{ name: "root", num_children: 2 },
                { name: "prompt", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" },
                { name: "response", type: "BYTE_ARRAY", converted_type: "UTF8", repetition_type: "OPTIONAL" }],
        });
        writer.write({ columnData: [
            { name: "prompt", data: ["Say hi.", new Uint8Array([0x48, 0xff, 0x69]), "Say hi."] },
            { name: "response", data: ["Hello.", "Hi", "Yo"] },
        ] });
        writer.finish();
        const path = join(tmp, "bad-utf8.parquet");
        writeFileSync(path, bytes.getBytes());
        const { code, stdout, stderr } = await score([path]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows[1]).toEqual({ line: 2, reward: null, error: "column prompt: not valid UTF-8 text" });
        expect(rows[0]!.reward).toBeCloseTo(referenceReward("Say hi.", "Hello."), 5);
        expect(rows[2]!.reward).toBeCloseTo(referenceReward("Say hi.", "Yo"), 5);
        expect(stderr).toContain(`${path}:2: column prompt: not valid UTF-8 text`);
        expect(stdout).not.toContain("\uFFFD");
    });
});

describe("JSON numbers, exactly", () => {
    it("JSONL to Parquet: an integer beyond 2^53 is a BIGINT with all its digits, a double stays a double", async () => {
        const jsonl = join(tmp, "big.jsonl");
        writeFileSync(jsonl, [
            '{"id": 9007199254740993, "x": 1.15, "prompt": "Say hi.", "response": "Hello."}',
            '{"id": -9223372036854775808, "x": 2.5, "prompt": "Say hi.", "response": "Yo"}',
        ].join("\n") + "\n");
        const out = join(tmp, "big.parquet");
        expect((await score([jsonl, "-o", out])).code).toBe(0);
        expect(await columnTypes(out)).toMatchObject({ id: "BIGINT", x: "DOUBLE" });
        expect(await duck(`SELECT id::VARCHAR AS id, x FROM '${out}'`)).toEqual([{ id: "9007199254740993", x: 1.15 }, { id: "-9223372036854775808", x: 2.5 }]);
    });

    it("JSONL rows in a folder with Parquet files keep their values in the Parquet file's columns", async () => {
        const folder = join(tmp, "mixed");
        mkdirSync(folder);
        await duck(`COPY (SELECT i AS id, 'Say hi.' AS prompt, 'Hello ' || i AS response FROM range(2) t(i)) TO '${join(folder, "a.parquet")}' (FORMAT parquet)`);
        writeFileSync(join(folder, "b.jsonl"), '{"id": 2, "prompt": "Say hi.", "response": "Hello 2"}\n{"id": 9007199254740993, "prompt": "Say hi.", "response": "Hello 3"}\n');
        const out = join(tmp, "mixed.parquet");
        const run = await score([folder, "-o", out]);
        expect(run.stderr).not.toMatch(/warning|error/);
        expect(run.code).toBe(0);
        expect(await duck(`SELECT id::VARCHAR AS id, response FROM '${out}'`)).toEqual(
            [{ id: "0", response: "Hello 0" }, { id: "1", response: "Hello 1" }, { id: "2", response: "Hello 2" }, { id: "9007199254740993", response: "Hello 3" }]);
    });
});

describe("an input of no rows keeps its columns", () => {
    it("a Parquet file of no rows: to Parquet with every column and the tool's; to CSV a header with them", async () => {
        const empty = await duckParquet("empty.parquet", "SELECT 'x' AS prompt, 'y' AS response, 1.5::DECIMAL(4,1) AS score, 7::BIGINT AS id WHERE false");
        const out = join(tmp, "empty-out.parquet");
        expect((await score([empty, "-o", out])).code).toBe(0);
        expect(await columnTypes(out)).toEqual({ prompt: "VARCHAR", response: "VARCHAR", score: "DECIMAL(4,1)", id: "BIGINT", reward: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR" });
        const csv = await score([empty, "--format", "csv"]);
        expect(csv.stdout).toBe("prompt,response,score,id,reward,special_tokens_in_content,error\n");
    });
});

describe("a damaged Parquet file names itself, and its intact row groups are read", () => {
    it("a file cut short: one error row naming the file; the other inputs are read", async () => {
        const whole = await duckParquet("whole.parquet", "SELECT 'Say hi.' AS prompt, 'Hello ' || i AS response FROM range(3000) t(i)", ", ROW_GROUP_SIZE 2048");
        const bytes = readFileSync(whole);
        const cut = join(tmp, "cut.parquet");
        writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length / 2)));
        const jsonl = join(tmp, "after.jsonl");
        writeFileSync(jsonl, '{"prompt": "Say hi.", "response": "Hello."}\n');
        const { code, stdout, stderr } = await runBuiltCli(["score", cut, jsonl, "-m", tinyModel, "--threads", "1"]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(2);
        expect(rows[0]).toMatchObject({ line: 1, reward: null, error: expect.stringMatching(/^not a readable Parquet file: its footer is missing or damaged/) });
        expect(typeof rows[1]!.reward).toBe("number");
        expect(stderr).toContain(`${cut}:1: not a readable Parquet file`);
    });

    it("a damaged row group: the groups before and after it are read, the damaged one is one error row naming the file and its rows", async () => {
        const path = await duckParquet("damaged.parquet", "SELECT 'Say hi.' AS prompt, 'Hello ' || i AS response FROM range(6000) t(i)", ", ROW_GROUP_SIZE 2048");
        const [group] = await duck(`SELECT min(data_page_offset) AS at FROM parquet_metadata('${path}') WHERE row_group_id = 1`);
        const fd = openSync(path, "r+");
        writeSync(fd, Buffer.alloc(64, 0xff), 0, 64, Number(group!.at));
        closeSync(fd);
        const { code, stdout, stderr } = await runBuiltCli(["score", path, "-m", tinyModel, "--threads", "1", "-q"]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        const damaged = rows.filter((r) => r.error !== undefined);
        expect(damaged).toEqual([expect.objectContaining({ line: 2049, reward: null, error: expect.stringMatching(/^row group 2 of 3 \(rows 2049 to 4096\) cannot be read, the file is damaged there/) })]);
        expect(rows.filter((r) => typeof r.reward === "number").map((r) => r.response)).toEqual(
            [...Array.from({ length: 2048 }, (_, i) => `Hello ${i}`), ...Array.from({ length: 6000 - 4096 }, (_, i) => `Hello ${4096 + i}`)]);
        expect(stderr).toContain(`${path}:2049: row group 2 of 3`);
    });
});

describe("the tool's fields never replace the user's", () => {
    it("a user field named special_tokens_in_content stays; the tool's flag goes in nemoreward_special_tokens_in_content", async () => {
        const row = { prompt: "Hi", response: "Hello<|eot_id|>", special_tokens_in_content: "checked by hand" };
        const { stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], JSON.stringify(row));
        expect(parseJsonl(stdout)[0]).toMatchObject({ special_tokens_in_content: "checked by hand", nemoreward_special_tokens_in_content: true });
        expect(stderr).toContain('nemoreward\'s "special_tokens_in_content" goes in "nemoreward_special_tokens_in_content"');
    });

    it.each(["error", "margin", "rank", "z", "best", "preferred", "skipped", "truncated", "dropped", "special_tokens_in_content", "nemoreward_x"])(
        "--field %s is refused: the reward would read as another field of the tool's", async (field) => {
            const { code, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--field", field], "{}");
            expect(stderr).toMatch(new RegExp(`^nemoreward: error: --field ${field}: .*choose another`));
            expect(code).toBe(2);
        });

    it("a Parquet INTEGER column named reward is the user's: kept, and the tool's reward goes in nemoreward_reward", async () => {
        const input = await duckParquet("int-reward.parquet", "SELECT 'Say hi.' AS prompt, 'Hello.' AS response, 4::INTEGER AS reward");
        const out = join(tmp, "int-reward-out.parquet");
        const run = await score([input, "-o", out]);
        expect(run.code).toBe(0);
        const [row] = await duck(`SELECT reward, nemoreward_reward FROM '${out}'`);
        expect(row!.reward).toBe(4);
        expect(row!.nemoreward_reward).toBeCloseTo(referenceReward("Say hi.", "Hello."), 5);
        // a file the tool wrote itself is scored again in place
        const again = join(tmp, "int-reward-again.parquet");
        expect((await score([out, "-o", again])).code).toBe(0);
        expect(await columnTypes(again)).toEqual({ prompt: "VARCHAR", response: "VARCHAR", reward: "INTEGER", nemoreward_reward: "DOUBLE", special_tokens_in_content: "BOOLEAN", error: "VARCHAR" });
        expect(await duck(`SELECT reward, nemoreward_reward FROM '${again}'`)).toEqual(await duck(`SELECT reward, nemoreward_reward FROM '${out}'`));
    });
});

describe("values that once came out altered", () => {
    it("a Parquet column and a struct field named __proto__ are columns like any other, in every format", async () => {
        const input = await duckParquet("proto.parquet", `SELECT 'Say hi.' AS prompt, 'Hello.' AS response, 5 AS "__proto__", {'__proto__': 1, 'a': 2} AS s`);
        const jsonlOut = join(tmp, "proto.jsonl"), csvOut = join(tmp, "proto.csv"), parquetOut = join(tmp, "proto-out.parquet");
        for (const out of [jsonlOut, csvOut, parquetOut]) expect((await score([input, "-o", out])).code).toBe(0);
        const line = readFileSync(jsonlOut, "utf8");
        expect(line.startsWith('{"prompt":"Say hi.","response":"Hello.","__proto__":5,"s":{"__proto__":1,"a":2},"reward":')).toBe(true);
        expect(readFileSync(csvOut, "utf8").split("\n").slice(0, 2).map((l) => l.split(",").slice(0, 5).join(","))).toEqual(
            ["prompt,response,__proto__,s,reward", 'Say hi.,Hello.,5,"{""__proto__"":1,""a"":2}"']);
        expect(await duck(`SELECT "__proto__"::VARCHAR AS c, s::VARCHAR AS s, error FROM '${parquetOut}'`)).toEqual([{ c: "5", s: "{'__proto__': 1, 'a': 2}", error: null }]);
    });

    it("Parquet to Parquet: a DECIMAL of any width is found by DuckDB's filters (its statistics are right or absent)", async () => {
        const input = await duckParquet("decimals-filter.parquet", `SELECT 'Say hi.' AS prompt, 'Hello.' AS response, -999.99::DECIMAL(5,2) AS d52,
            12345.6789::DECIMAL(9,4) AS d94, 99.99::DECIMAL(4,2) AS d42, 1.5::DECIMAL(18,1) AS d181, 1.5::DECIMAL(30,1) AS d301`);
        const out = join(tmp, "decimals-filter-out.parquet");
        expect((await score([input, "-o", out])).code).toBe(0);
        for (const where of ["d52 = -999.99", "d94 = 12345.6789", "d94 > 12000", "d42 = 99.99", "d42 < 100", "d181 = 1.5", "d301 = 1.5"]) {
            expect(await duck(`SELECT count(*) AS n FROM '${input}' WHERE ${where}`), where).toEqual([{ n: "1" }]);
            expect(await duck(`SELECT count(*) AS n FROM '${out}' WHERE ${where}`), where).toEqual([{ n: "1" }]);
        }
    });

    it("-0 keeps its sign: Parquet DOUBLE and FLOAT to JSONL and CSV, and JSONL -0.0 to a Parquet DOUBLE", async () => {
        const input = await duckParquet("negative-zero.parquet", "SELECT 'Say hi.' AS prompt, 'Hello.' AS response, '-0.0'::DOUBLE AS d, '-0.0'::FLOAT AS f, ['-0.0'::DOUBLE] AS l");
        const jsonlOut = join(tmp, "negative-zero.jsonl"), csvOut = join(tmp, "negative-zero.csv");
        for (const out of [jsonlOut, csvOut]) expect((await score([input, "-o", out])).code).toBe(0);
        expect(readFileSync(jsonlOut, "utf8")).toMatch(/^\{"prompt":"Say hi\.","response":"Hello\.","d":-0,"f":-0,"l":\[-0\],"reward":/);
        expect(readFileSync(csvOut, "utf8").split("\n")[1]).toMatch(/^Say hi\.,Hello\.,-0,-0,\[-0\],/);
        const jsonl = join(tmp, "negative-zero-in.jsonl"), parquetOut = join(tmp, "negative-zero-out.parquet");
        writeFileSync(jsonl, '{"prompt":"Say hi.","response":"Hello.","x":-0.0}\n');
        expect((await score([jsonl, "-o", parquetOut])).code).toBe(0);
        expect(await duck(`SELECT typeof(x) AS t, signbit(x) AS negative FROM '${parquetOut}'`)).toEqual([{ t: "DOUBLE", negative: true }]);
    });

    it("a DATE or TIMESTAMP_MS beyond what a JavaScript Date holds: the row scored, the value its count of days or milliseconds", async () => {
        const input = await duckParquet("far-dates.parquet", `SELECT * FROM (VALUES ('Say hi.', 'Hello.', DATE '2000-01-01', TIMESTAMP_MS '2000-01-01 00:00:00'),
            ('Say hi.', 'Hi.', DATE '5881580-07-10', TIMESTAMP_MS '294247-01-01 00:00:00')) AS t(prompt, response, d, ts)`);
        const out = join(tmp, "far-dates.jsonl");
        const run = await score([input, "-o", out]);
        expect(run.code).toBe(0);
        const [near, far] = parseJsonl(readFileSync(out, "utf8"));
        expect([near!.d, near!.ts]).toEqual(["2000-01-01T00:00:00.000Z", "2000-01-01T00:00:00.000Z"]);
        const [counts] = await duck(`SELECT (d - DATE '1970-01-01')::BIGINT AS days, epoch_ms(ts)::VARCHAR AS ms FROM '${input}' WHERE response = 'Hi.'`);
        expect(far!.d).toBe(Number(counts!.days));
        expect(String(readFileSync(out, "utf8").split("\n")[1]!.match(/"ts":(\d+)/)![1])).toBe(counts!.ms);
        expect(typeof far!.reward).toBe("number");
    });

    it("a first column named with a leading U+FEFF survives CSV and TSV: it is not taken for the byte order mark", async () => {
        const input = join(tmp, "bom-key.jsonl");
        writeFileSync(input, '{"\\ufeffk":"v","prompt":"Say hi.","response":"Hello."}\n');
        for (const format of ["csv", "tsv"]) {
            const out = join(tmp, `bom-key.${format}`), back = join(tmp, `bom-key-back-${format}.jsonl`);
            expect((await score([input, "-o", out])).code).toBe(0);
            expect((await score([out, "-o", back])).code).toBe(0);
            expect(Object.keys(parseJsonl(readFileSync(back, "utf8"))[0]!).slice(0, 3)).toEqual(["\ufeffk", "prompt", "response"]);
        }
    });

    it("a lone surrogate escape (no UTF-8 form) to CSV, TSV or Parquet: an error row naming the column, never U+FFFD", async () => {
        const input = join(tmp, "surrogate.jsonl");
        writeFileSync(input, '{"prompt":"Say hi.","response":"Hello.","x":"a\\ud800b","n":[2.50,1.0,1E2]}\n{"prompt":"Say hi.","response":"Hi.","x":"fine","n":1.0}\n');
        for (const format of ["csv", "tsv", "parquet"]) {
            const out = join(tmp, `surrogate-out.${format}`);
            const run = await score([input, "-o", out]);
            expect(run.stderr).toMatch(/surrogate\.jsonl:1: column x: a lone surrogate \(\\ud800\) has no UTF-8 form/);
            expect(run.code).toBe(3);
            const bytes = readFileSync(out);
            expect(bytes.includes(Buffer.from("\ufffd"))).toBe(false);
            if (format === "parquet") expect(await duck(`SELECT x, error IS NULL AS ok FROM '${out}'`)).toEqual([{ x: null, ok: false }, { x: "fine", ok: true }]);
            else {
                expect(bytes.toString().split("\n").filter(Boolean)).toHaveLength(3);
                // the error row's other values are still its own text: 2.50 is not rewritten 2.5
                expect(bytes.toString().split("\n")[1]).toContain(format === "csv" ? '"[2.50,1.0,1E2]"' : "[2.50,1.0,1E2]");
            }
        }
    });

    it("CSV and TSV output keeps the user's reward and error columns whatever they hold; the tool's go under nemoreward_", async () => {
        const input = join(tmp, "labels.csv");
        writeFileSync(input, "prompt,response,reward,error\nSay hi.,Hello.,excellent,my note\nSay hi.,Hi.,0.5,see ticket 7\n");
        for (const format of ["csv", "tsv"]) {
            const out = join(tmp, `labels-out.${format}`);
            const run = await score([input, "-o", out]);
            expect(run.code).toBe(0);
            const sep = format === "csv" ? "," : "\t";
            const lines = readFileSync(out, "utf8").trimEnd().split("\n").map((l) => l.split(sep));
            expect(lines[0]).toEqual(["prompt", "response", "reward", "error", "nemoreward_reward", "special_tokens_in_content", "nemoreward_error"]);
            expect(lines.slice(1).map((l) => l.slice(0, 4))).toEqual([["Say hi.", "Hello.", "excellent", "my note"], ["Say hi.", "Hi.", "0.5", "see ticket 7"]]);
            expect(Number(lines[1]![4])).toBeCloseTo(referenceReward("Say hi.", "Hello."), 5);
        }
    });
});

describe("a JSON key given twice", () => {
    it("is the user's in JSONL (both values kept byte for byte, the tool's reward beside them) and a warning names it", async () => {
        const input = join(tmp, "twice.jsonl");
        const line = '{"prompt":"Say hi.","response":"Hello.","reward":"excellent","reward":null,"label":"first","label":"second"}';
        writeFileSync(input, `${line}\n`);
        const run = await score([input]);
        expect(run.code).toBe(0);
        const reward = referenceReward("Say hi.", "Hello.");
        expect(run.stdout.startsWith(`${line.slice(0, -1)},"nemoreward_reward":`)).toBe(true);
        expect(parseJsonl(run.stdout)[0]!.nemoreward_reward as number).toBeCloseTo(reward, 5);
        for (const key of ["reward", "label"]) expect(run.stderr).toContain(`twice.jsonl:1: the key "${key}" is given more than once`);
        const csv = await score([input, "--format", "csv"]);
        expect(csv.stderr).toContain('the key "label" is given more than once: its last value is the one read, and the only one CSV, TSV and Parquet output hold');
    });
});

describe("a line is blank only when it holds nothing but JSON whitespace", () => {
    it("lines of a vertical tab, form feed, no-break space, byte-order mark, U+2028 or U+3000 are error rows, and progress counts what is read", async () => {
        const odd = ["\u000b", "\f", "\u00a0", "\ufeff", "\u2028", "\u3000"];
        const jsonl = join(tmp, "odd.jsonl");
        writeFileSync(jsonl, ['{"prompt": "Say hi.", "response": "Hello."}', " \t", ...odd, "", '{"prompt": "Say hi.", "response": "Yo"}'].join("\n") + "\n");
        const { code, stdout, stderr } = await runBuiltCli(["score", jsonl, "-m", tinyModel, "--threads", "1"]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(2 + odd.length);
        expect(rows.slice(1, -1).map((r) => [r.line, r.reward, (r.error as string).slice(0, 14)])).toEqual(odd.map((_, i) => [3 + i, null, "not valid JSON"]));
        expect(stderr).toMatch(new RegExp(`scored 2 of ${2 + odd.length} rows \\(${odd.length} not\\)`));
    });
});

describe("a value nested any deep is a group key like any other", () => {
    it("--rank --group-by on a value 100,000 deep: every row written, ranked in its group", async () => {
        const deep = (n: number) => `${"[".repeat(100_000)}${n}${"]".repeat(100_000)}`;
        const rows = [0, 0, 1].map((g, i) => `{"g": ${deep(g)}, "prompt": "Say hi.", "response": "Hello ${i}"}`);
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank", "--group-by", "g"], rows.join("\n"));
        expect(code).toBe(0);
        const out = stdout.trim().split("\n").map((line) => JSON.parse(line.replace(/"g": \[+\d+\]+, /, "")) as Record<string, unknown>);
        expect(out.map((r) => r["response"])).toEqual(["Hello 0", "Hello 1", "Hello 2"]);
        expect(out.map((r) => r["rank"]).slice(0, 2).sort()).toEqual([1, 2]);
        expect(out[2]!["rank"]).toBe(1);
    });
});
