import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { duck } from "../duckdb.js";
import { duckParquet, newDir, runBuiltCli } from "../helpers.js";

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
