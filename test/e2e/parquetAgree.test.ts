import { spawnSync } from "node:child_process";
import { appendFileSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { columnTypes, duck } from "../duckdb.js";
import { cli, duckParquet, newDir, parseJsonl, referenceRewards, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

// Parquet written by the tool holds every value as it came, and one run's files, its rejects and merges agree on
// columns and types.

const tmp = newDir("parquet-agree");
const write = (name: string, text: string) => {
    const path = join(tmp, name);
    writeFileSync(path, text);
    return path;
};
// a model-free run: no model named anywhere, none to find
const noModel = { NEMOREWARD_MODEL: "/nonexistent/model.gguf", NEMOREWARD_HOME: join(tmp, "empty-home") };

describe("Parquet output keeps every value exactly", () => {
    it("a 0 after a -0 stays 0 (and -0 stays -0) in DOUBLE columns, top-level and nested, from JSONL and from Parquet", async () => {
        const input = write("zeros.jsonl", [
            '{"reward": 1, "b": -0, "l": [-0.0, 0.0], "s": {"x": -0}}',
            '{"reward": 1, "b": 0, "l": [0, -0], "s": {"x": 0.0}}',
            '{"reward": 1, "b": 0.0, "l": [0.0], "s": {"x": 0}}',
            '{"reward": 1, "b": 7.5, "l": [-0], "s": {"x": -0.0}}',
            '{"reward": 1, "b": 0, "l": [0], "s": {"x": 0}}',
        ].join("\n") + "\n");
        const out = join(tmp, "zeros.parquet");
        const run = await runBuiltCli(["filter", input, "--min-reward", "0", "-o", out], undefined, noModel);
        expect(run.code, run.stderr).toBe(exitCodes.ok);
        const signs = async (path: string) => (await duck(`SELECT signbit(b) AS b, list_transform(l, e -> signbit(e)) AS l, signbit(s.x) AS x FROM '${path}'`));
        const expected = [
            { b: true, l: [true, false], x: true },
            { b: false, l: [false, true], x: false },
            { b: false, l: [false], x: false },
            { b: false, l: [true], x: true },
            { b: false, l: [false], x: false },
        ];
        expect(await signs(out)).toEqual(expected);
        // from standard input (the rows wait on disk for their columns' types)
        const piped = join(tmp, "zeros-piped.parquet");
        const fromStdin = await runBuiltCli(["filter", "--min-reward", "0", "-o", piped], readFileSync(input, "utf8"), noModel);
        expect(fromStdin.code, fromStdin.stderr).toBe(exitCodes.ok);
        expect(await signs(piped)).toEqual(expected);
        // Parquet written by DuckDB (dictionary-encoded there) to Parquet
        const parquetIn = await duckParquet(join(tmp, "zeros-in.parquet"), `SELECT 1.0::DOUBLE AS reward, * FROM (VALUES (-0.0::DOUBLE), (0.0::DOUBLE), (0.0::DOUBLE), (-0.0::DOUBLE)) t(b)`);
        const parquetOut = join(tmp, "zeros-out.parquet");
        const again = await runBuiltCli(["filter", parquetIn, "--min-reward", "0", "-o", parquetOut], undefined, noModel);
        expect(again.code, again.stderr).toBe(exitCodes.ok);
        expect(await duck(`SELECT signbit(b) AS b FROM '${parquetOut}'`)).toEqual([{ b: true }, { b: false }, { b: false }, { b: true }]);
        // FLOAT columns too
        const floats = await duckParquet(join(tmp, "floats-in.parquet"), `SELECT 1.0::DOUBLE AS reward, b::FLOAT AS f FROM (VALUES (-0.0::DOUBLE), (0.0::DOUBLE)) t(b)`);
        const floatsOut = join(tmp, "floats-out.parquet");
        expect((await runBuiltCli(["filter", floats, "--min-reward", "0", "-o", floatsOut], undefined, noModel)).code).toBe(exitCodes.ok);
        expect(await duck(`SELECT signbit(f) AS f FROM '${floatsOut}'`)).toEqual([{ f: true }, { f: false }]);
    });
});

// rows whose columns only later rows show: `x` a double, then an integer past 2^53 (JSON text); `n` a struct
const mixed = [
    ...Array.from({ length: 8 }, (_, i) => JSON.stringify({ id: i, prompt: `p${i % 3}`, response: `r${i} é` })),
    JSON.stringify({ id: 8, prompt: "p2", response: "r8", x: 1.5 }),
    '{"id": 9, "prompt": "p0", "response": "r9", "x": 9007199254740993}',
    JSON.stringify({ id: 10, prompt: "p1", response: "r10", n: { a: [1, 2] } }),
    JSON.stringify({ id: 11, prompt: "p" }),
].join("\n") + "\n";
const typesOf = async (path: string) => Object.entries(await columnTypes(path)).map(([name, type]) => `${name} ${type}`);

describe("one run's Parquet outputs, and merges, agree on columns and types", () => {
    it("score --rejects: the kept rows and the rejects have the same columns of the same types (both typed from every row), from a file and from standard input", async () => {
        const input = write("mixed.jsonl", mixed);
        for (const stdin of [false, true]) {
            const [kept, rejects] = [join(tmp, `kept-${stdin}.parquet`), join(tmp, `rejects-${stdin}.parquet`)];
            const args = ["score", ...(stdin ? [] : [input]), "-m", tinyModel, "--threads", "1", "--top-k", "1", "--group-by", "prompt", "-o", kept, "--rejects", rejects];
            const run = stdin ? await runBuiltCli(args, mixed) : await runBuiltCli(args);
            expect(run.code, run.stderr).toBe(exitCodes.someRowsFailed);
            expect(await typesOf(rejects)).toEqual([...await typesOf(kept), "dropped VARCHAR"]);
            expect((await columnTypes(kept))["x"]).toBe("JSON");
            // read back as one folder: DuckDB unions them by name
            expect((await duck(`SELECT count(*)::INTEGER AS n FROM read_parquet(['${kept}', '${rejects}'], union_by_name = true)`))[0]!["n"]).toBe(12);
        }
    });

    it("merge of JSONL parts into Parquet is one run's Parquet: the same columns, in the same order, of the same types (special_tokens_in_content too), the same values", async () => {
        const input = write("tomerge.jsonl", mixed);
        const whole = join(tmp, "whole.parquet");
        expect((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "-o", whole])).code).toBe(exitCodes.someRowsFailed);
        const parts = [0, 1].map((k) => join(tmp, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries())
            expect([exitCodes.ok, exitCodes.someRowsFailed]).toContain((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "--shard", `${k}/2`, "-o", part])).code);
        const merged = join(tmp, "merged.parquet");
        const run = await runInProcess(["merge", merged, ...parts]);
        expect(run.code, run.stderr).toBe(exitCodes.ok);
        expect(await typesOf(merged)).toEqual(await typesOf(whole));
        expect(await typesOf(merged)).toContain("special_tokens_in_content BOOLEAN");
        expect(await duck(`SELECT * FROM '${merged}' EXCEPT ALL SELECT * FROM '${whole}'`)).toEqual([]);
        expect(await duck(`SELECT * FROM '${whole}' EXCEPT ALL SELECT * FROM '${merged}'`)).toEqual([]);
    });

    it("filter of a scored JSONL file (error rows among its rows) to Parquet rejects: no false warning, no nemoreward_error beside error", async () => {
        const input = write("toscore.jsonl", mixed);
        const scored = join(tmp, "scored.jsonl");
        expect((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "-o", scored])).code).toBe(exitCodes.someRowsFailed);
        const [kept, rejects] = [join(tmp, "f-kept.parquet"), join(tmp, "f-rejects.parquet")];
        const run = await runBuiltCli(["filter", scored, "--top-k", "1", "--group-by", "prompt", "-o", kept, "--rejects", rejects], undefined, noModel);
        expect(run.code, run.stderr).toBe(exitCodes.someRowsFailed);
        expect(run.stderr).not.toMatch(/of its own/);
        expect(await typesOf(rejects)).toEqual([...await typesOf(kept), "dropped VARCHAR"]);
        expect(Object.keys(await columnTypes(rejects)).filter((name) => name.includes("error"))).toEqual(["error"]);
        // the reward an earlier run wrote keeps its column's type: DOUBLE, as score writes it
        expect((await columnTypes(kept))["reward"]).toBe("DOUBLE");
        // columns in the rows' order: x and n, which only later rows have, before the reward that follows them there
        expect(Object.keys(await columnTypes(kept))).toEqual(["id", "prompt", "response", "x", "n", "reward", "error"]);
    });

    it("merge to Parquet of JSONL parts whose rewards are whole numbers: reward is DOUBLE, the tool's type", async () => {
        // parts as a run of the tool writes them, the reward a whole number by chance
        const settings = (k: number) => JSON.stringify({ nemoreward: 3, rows: "score", format: "jsonl", field: "reward", onOverlong: "error", shard: `${k}/2` });
        const parts = [0, 1].map((k) => {
            const path = write(`whole-${k}.jsonl`, `${JSON.stringify({ id: k, prompt: "p", response: "r", reward: -2 })}\n`);
            writeFileSync(`${path}.resume`, `${settings(k)}\n`);
            return path;
        });
        const merged = join(tmp, "whole-rewards.parquet");
        const run = await runInProcess(["merge", merged, ...parts]);
        expect(run.code, run.stderr).toBe(exitCodes.ok);
        expect((await columnTypes(merged))["reward"]).toBe("DOUBLE");
        expect(await duck(`SELECT id, reward FROM '${merged}'`)).toEqual([{ id: "0", reward: -2 }, { id: "1", reward: -2 }]);
    });
});

describe("rows of mixed shapes read back from Parquet", () => {
    const reference = referenceRewards();
    it("prompt/response rows beside messages rows, written to Parquet (a messages column null on the former, prompt/response null on the latter), score again as the same conversations, from the file and from standard input; also in JSONL", async () => {
        const rows = [
            { id: 1, prompt: "What is 2+2?", response: "4" },
            { id: 2, messages: [{ role: "user", content: "Name a colour" }, { role: "assistant", content: "blue" }] },
            { id: 3, prompt: "Say hi", response: "Hi!" },
        ];
        const input = write("shapes.jsonl", rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const parquet = join(tmp, "shapes.parquet");
        expect((await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "-o", parquet])).code).toBe(exitCodes.ok);
        expect(await duck(`SELECT messages IS NULL AS m, prompt IS NULL AS p FROM '${parquet}'`)).toEqual([{ m: true, p: false }, { m: false, p: true }, { m: true, p: false }]);
        const expected = [reference("What is 2+2?", "4"), reference("Name a colour", "blue"), reference("Say hi", "Hi!")];
        const fromFile = await runBuiltCli(["score", parquet, "-m", tinyModel, "--precise", "--threads", "1", "--format", "jsonl"]);
        const fromStdin = spawnSync(process.execPath, [cli, "score", "-m", tinyModel, "--precise", "--threads", "1", "--format", "jsonl"], { input: readFileSync(parquet), encoding: "utf8" });
        for (const run of [fromFile, { code: fromStdin.status, stdout: fromStdin.stdout, stderr: fromStdin.stderr }]) {
            expect(run.code, run.stderr).toBe(exitCodes.ok);
            const again = parseJsonl(run.stdout);
            expect(again).toHaveLength(3);
            // the file's reward column is the earlier run's: replaced in place
            for (const [i, row] of again.entries()) expect(row.reward).toBeCloseTo(expected[i]!, 5);
        }
        // JSONL: a null messages beside a prompt and response, and null prompt and response beside messages
        const nulls = write("nulls.jsonl", [
            JSON.stringify({ messages: null, prompt: "What is 2+2?", response: "4" }),
            JSON.stringify({ prompt: null, response: null, messages: rows[1]!.messages }),
        ].join("\n") + "\n");
        const jsonl = await runBuiltCli(["score", nulls, "-m", tinyModel, "--precise", "--threads", "1", "--format", "jsonl"]);
        expect(jsonl.code, jsonl.stderr).toBe(exitCodes.ok);
        const scored = parseJsonl(jsonl.stdout);
        expect(scored[0]!.reward).toBeCloseTo(expected[0]!, 5);
        expect(scored[1]!.reward).toBeCloseTo(expected[1]!, 5);
    });
});

describe("rows of mixed kinds read back from Parquet", () => {
    const reference = referenceRewards();
    it("a prompt/response row beside a best-of-N row (a responses column null on the former, response null on the latter) scores again as the same tasks", async () => {
        const rows = [
            { id: 1, prompt: "What is 2+2?", response: "4" },
            { id: 2, prompt: "Say hi", responses: ["Hi!", "Hello"] },
        ];
        const input = write("kinds.jsonl", rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const parquet = join(tmp, "kinds.parquet");
        const first = await runBuiltCli(["score", input, "-m", tinyModel, "--threads", "1", "-o", parquet]);
        expect(first.code, first.stderr).toBe(exitCodes.ok);
        const again = await runBuiltCli(["score", parquet, "-m", tinyModel, "--precise", "--threads", "1", "--format", "jsonl"]);
        expect(again.code, again.stderr).toBe(exitCodes.ok);
        const [single, best] = parseJsonl(again.stdout);
        // a run of several conversations per row batches them: close to the float64 reference, not to its last digits
        expect(single!.reward).toBeCloseTo(reference("What is 2+2?", "4"), 3);
        expect(best!.rewards[0]).toBeCloseTo(reference("Say hi", "Hi!"), 3);
        expect(best!.rewards[1]).toBeCloseTo(reference("Say hi", "Hello"), 3);
    });
});

describe("--resume of Parquet", () => {
    it("refuses, before the model loads, an appended input that changes a column's type; the file and its record stay as they were", async () => {
        const input = write("grows.jsonl", [1, 2, 3].map((i) => JSON.stringify({ id: i, prompt: "Q", response: `A${i}`, x: i })).join("\n") + "\n");
        const out = join(tmp, "grows.parquet");
        const args = ["score", input, "-m", tinyModel, "--threads", "1", "-o", out, "--resume"];
        expect((await runBuiltCli(args)).code).toBe(exitCodes.ok);
        // x was BIGINT; a text value makes it JSON text
        appendFileSync(input, `${JSON.stringify({ id: 4, prompt: "Q", response: "A4", x: "four" })}\n`);
        const [bytes, record] = [readFileSync(out), readFileSync(`${out}.resume`)];
        const run = await runBuiltCli(args);
        expect(run.code, run.stderr).toBe(exitCodes.usage);
        expect(run.stderr).toMatch(/resumed has other columns than this run gives/);
        expect(run.stderr).not.toMatch(/backend|engine/); // the model never loaded
        expect(readFileSync(out).equals(bytes)).toBe(true);
        expect(readFileSync(`${out}.resume`).equals(record)).toBe(true);
    });
});
