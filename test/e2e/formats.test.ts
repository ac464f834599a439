import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const dir = "fixtures/formats";
const tmp = mkdtempSync(join(tmpdir(), "nemoreward-formats-"));
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
        expect(file.stdout.split("\n")[0]).toBe("system\tprompt\tresponse\treward\terror");
    });
});

describe("output", () => {
    it("CSV in, CSV out: the original columns round-trip byte for byte, reward and error added", async () => {
        const input = readFileSync(`${dir}/helpsteer2.csv`, "utf8");
        const { code, stdout } = await runBuiltCli(["score", `${dir}/helpsteer2.csv`, "-m", tinyModel]);
        expect(code).toBe(0);
        const records: string[][] = parse(stdout);
        expect(records[0]!.slice(-2)).toEqual(["reward", "error"]);
        expect(records.map((r) => r.slice(0, -2))).toEqual(parse(input));
        // without the two added columns, the output is the input to the byte (quoting, CRLF, field text)
        const stripped = stdout.replace(",reward,error\r\n", "\r\n").replace(/,-?\d+(?:\.\d+)?(?:e-?\d+)?,\r\n/g, "\r\n");
        expect(stripped).toBe(input);
        expect(records.slice(1).every((r) => Number.isFinite(Number(r.at(-2))) && r.at(-1) === "")).toBe(true);
    });

    it("-o FILE picks the format from the extension; --format json writes one array", async () => {
        const out = join(tmp, "scored.tsv");
        const toFile = await runInProcess(["score", `${dir}/sharegpt.jsonl`, "-m", tinyModel, "-o", out]);
        expect(toFile.code).toBe(0);
        expect(toFile.stdout).toBe("");
        const lines = readFileSync(out, "utf8").trimEnd().split("\n");
        expect(lines[0]).toBe("id\tconversations\treward\terror");
        expect(lines).toHaveLength(4);
        const json = await runInProcess(["score", `${dir}/sharegpt.jsonl`, "-m", tinyModel, "--format", "json", "--field", "score"]);
        const array = JSON.parse(json.stdout);
        expect(array).toHaveLength(3);
        expect(typeof array[0].score).toBe("number");
        expect(array[0].reward).toBeUndefined();
    });

    it("table: a human view with the reward and the end of the conversation", async () => {
        const { stdout } = await runInProcess(["score", `${dir}/sft.tsv`, "-m", tinyModel, "--format", "table"]);
        const lines = stdout.trimEnd().split("\n");
        expect(lines[0]).toMatch(/line\s+reward\s+conversation/);
        expect(lines[1]).toMatch(/^\s+2\s+-?\d+\.\d{4}\s+Capital of France\?\s+→ Paris\./);
        expect(stdout).not.toMatch(/\x1b\[/); // no colour codes when not on a terminal
    });
});

it("stdout stays parseable while progress lines go to stderr", async () => {
    const lines = readFileSync(`${dir}/sharegpt.jsonl`, "utf8").repeat(10);
    const { code, stdout, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel, "--progress-seconds", "0"], lines);
    expect(code).toBe(0);
    expect(parseJsonl(stdout)).toHaveLength(30);
    // a plain progress line per row (stderr is not a terminal), then the summary
    expect(stderr.match(/^nemoreward: scored \d+ rows, \d+ tokens in .* rows\/s, \d+ tokens\/s\)$/gm)!.length).toBeGreaterThanOrEqual(30);
    expect(stderr).toMatch(/scored 30 rows, .*reward min -?\d+\.\d+, mean -?\d+\.\d+, max -?\d+\.\d+/);
});

describe("rows that cannot be scored", () => {
    it("a malformed mix: one output row per non-blank line, each failure named file:line on stderr, exit 3", async () => {
        const { code, stdout, stderr } = await runBuiltCli(["score", `${dir}/malformed.jsonl`, "-m", tinyModel]);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows.map((r) => (r.reward === null ? "error" : "ok"))).toEqual(["ok", "error", "error", "error", "ok", "error", "error"]);
        for (const line of [2, 4, 5, 7, 8]) expect(stderr).toContain(`fixtures/formats/malformed.jsonl:${line}:`);
        expect(stderr).toMatch(/scored 7 of 7 rows, 5 not scored/);
    });

    it("--max-errors N stops early with exit 3, keeping the rows before", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", `${dir}/malformed.jsonl`, "-m", tinyModel, "--max-errors", "2"]);
        expect(code).toBe(3);
        expect(parseJsonl(stdout).length).toBeLessThan(7);
        // rows already in flight when the limit is reached are still written, never dropped
        expect(parseJsonl(stdout).filter((r) => r.reward === null).length).toBeGreaterThanOrEqual(2);
        expect(stderr).toMatch(/stopped after 2 rows could not be scored \(--max-errors 2\)/);
    });

    it("several files in one call, in order, each error naming its own file", async () => {
        const { stdout, stderr } = await runInProcess(["score", `${dir}/sharegpt.jsonl`, `${dir}/malformed.jsonl`, "-m", tinyModel]);
        expect(parseJsonl(stdout)).toHaveLength(10);
        expect(stderr).toContain("malformed.jsonl:2:");
    });
});

describe("usage errors exit 2 with one clear line", () => {
    it.each([
        [["score", "README.md"], /cannot tell the format of README.md/],
        [["score", `${dir}/sft.tsv`, "-o", join(tmp, "out.xyz")], /cannot tell the format of .*out.xyz/],
        [["score", `${dir}/sft.tsv`, "--format", "xml"], /argument 'xml' is invalid/],
        [["score", "missing.jsonl"], /input file not found: missing.jsonl/],
    ])("%j", async (args, message) => {
        const { code, stderr, stdout } = await runInProcess([...args, "-m", tinyModel]);
        expect(code).toBe(2);
        expect(stderr).toMatch(message);
        expect(stdout).toBe("");
    });
});

it("--help shows an example for each common use", async () => {
    const { code, stdout } = await runInProcess(["score", "--help"]);
    expect(code).toBe(0);
    for (const example of ["score data.jsonl", "| jq", ".csv", "--format table", "--input-format csv", "--prompt-field", "--gpu cuda"])
        expect(stdout).toContain(example);
});
