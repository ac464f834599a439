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

describe("scoring a scored file again", () => {
    it("CSV: the reward and error columns get new values in place, not a second set of columns", async () => {
        const once = join(tmp, "once.csv"), twice = join(tmp, "twice.csv");
        expect((await runInProcess(["score", `${dir}/helpsteer2.csv`, "-m", tinyModel, "-o", once])).code).toBe(0);
        expect((await runInProcess(["score", once, "-m", tinyModel, "-o", twice])).code).toBe(0);
        const [first, second] = [once, twice].map((f) => parse(readFileSync(f, "utf8"), { columns: false }) as string[][]);
        expect(second![0]).toEqual(first![0]); // the same header: ..., reward, error
        expect(second!.filter((r) => r.length !== first![0]!.length)).toEqual([]);
        expect(second).toEqual(first);
    });

    it("JSONL: an old error or marker is cleared, whatever this run's --on-overlong", async () => {
        // as nemoreward writes a row: its fields after the record's (fields named so before the reward are the user's)
        const old = { prompt: "Hi", response: "Yo", reward: null, truncated: true, skipped: "old", error: "old failure" };
        for (const policy of ["error", "skip", "truncate"]) {
            const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--on-overlong", policy], JSON.stringify(old));
            expect(code).toBe(0);
            const [row] = parseJsonl(stdout);
            expect(row).toMatchObject({ error: null, truncated: null, skipped: null });
            expect(typeof row!.reward).toBe("number");
            expect(Object.keys(row!)).toEqual(Object.keys(old));
        }
        // skipped now: the old error goes, the new reason stays
        const skipped = await runInProcess(["score", "-", "-m", tinyModel, "--on-overlong", "skip", "--context-size", "5"], JSON.stringify(old));
        expect(parseJsonl(skipped.stdout)[0]).toMatchObject({ error: null, truncated: null, skipped: expect.stringMatching(/over the 5-token/), reward: null });
    });

    it("a file never scored keeps its own error and truncated fields: only a scored file's are replaced", async () => {
        const csv = join(tmp, "user-error.csv");
        writeFileSync(csv, "prompt,response,error,truncated\nP1,R1,timeout in annotator,yes\n");
        const out = await runInProcess(["score", csv, "-m", tinyModel, "--format", "csv"]);
        expect(out.stdout.split("\n")[1]).toMatch(/^P1,R1,timeout in annotator,yes,-?\d/);
        const jsonl = await runInProcess(["score", "-", "-m", tinyModel], JSON.stringify({ prompt: "P", response: "R", error: "annotator" }));
        expect(parseJsonl(jsonl.stdout)[0]).toMatchObject({ error: "annotator", reward: expect.any(Number) });
    });

    it("a ragged row (too few or too many fields) keeps the columns aligned: empty cells and its error", async () => {
        const csv = join(tmp, "ragged-out.csv");
        writeFileSync(csv, "prompt,response,note\nP1,R1,n\nshort,row\nlong,row,x,extra\nP2,R2,m\n");
        const { code, stdout } = await runInProcess(["score", csv, "-m", tinyModel, "--format", "csv"]);
        expect(code).toBe(3);
        const rows = parse(stdout, { columns: true }) as Record<string, string>[];
        expect(rows.map((r) => [r.prompt, r.error])).toEqual([["P1", ""], ["", "expected 3 columns, found 2"], ["", "expected 3 columns, found 4"], ["P2", ""]]);
        expect(rows.map((r) => Number.isNaN(Number(r.reward)))).toEqual([false, false, false, false]); // numbers or empty
    });

    it("CSV with CRLF line ends keeps them when its reward column is replaced", async () => {
        const crlf = join(tmp, "crlf.csv");
        writeFileSync(crlf, "prompt,response,reward,error\r\nHi,Hello,1.5,\r\nHi,Yo,2.5,\r\n");
        const { stdout } = await runInProcess(["score", crlf, "-m", tinyModel, "--format", "csv"]);
        expect(stdout.split("\r\n").slice(0, 3).map((l) => l.split(",").length)).toEqual([4, 4, 4]);
        expect(stdout.endsWith("\r\n")).toBe(true);
        expect(stdout.replaceAll("\r\n", "")).not.toContain("\n");
    });
});

describe("CSV/TSV columns", () => {
    const csvRows = (text: string, delimiter = ",") => parse(text, { columns: true, delimiter }) as Record<string, string>[];

    it("TSV keeps tabs, line breaks and quotes in values: quoted as in CSV, read back to the same text and reward", async () => {
        const prompt = 'Line one\nline\ttwo "quoted"\r\nend';
        const input = join(tmp, "specials.csv");
        writeFileSync(input, `prompt,response\n"${prompt.replace(/"/g, '""')}",Hello\n`);
        const tsv = await runInProcess(["score", input, "-m", tinyModel, "--format", "tsv"]);
        const jsonl = await runInProcess(["score", input, "-m", tinyModel, "--format", "jsonl"]);
        expect(tsv.code).toBe(0);
        const [row] = csvRows(tsv.stdout, "\t");
        expect(row!.prompt).toBe(prompt);
        expect(Number(row!.reward)).toBe(parseJsonl(jsonl.stdout)[0]!.reward);
    });

    it("the header comes from the first row with a record; a row with a field that has no column is an error row that names it, never shifted", async () => {
        const records = [{ prompt: "Hi", response: "Hello" }, { prompt: "Hi", response: "Yo", extra: "x" },
            { prompt: "Hi", chosen: "a", rejected: "b" }, { response: "Hey", prompt: "Hi" }];
        const input = join(tmp, "mixed.jsonl");
        writeFileSync(input, ["not json", ...records.map((r) => JSON.stringify(r))].join("\n") + "\n");
        const { stdout, stderr } = await runInProcess(["score", input, "-m", tinyModel, "--format", "csv"]);
        expect(stdout.split("\n")[0]).toBe("prompt,response,reward,error");
        const rows = csvRows(stdout);
        expect(rows.map((r) => [r.prompt, r.response])).toEqual([["", ""], ...records.map((r) => [r.prompt, r.response ?? ""])]);
        expect(rows[0]!.error).toMatch(/not valid JSON/);
        expect(rows.map((r) => r.reward === "")).toEqual([true, false, true, true, false]);
        expect(rows[2]!.error).toMatch(/^the output has no column for extra\b/);
        expect(rows[3]!.error).toMatch(/^the output has no column for chosen, rejected, reward_chosen, reward_rejected, margin\b/);
        expect(stderr).toMatch(/mixed\.jsonl:3: the output has no column for extra\b/);
        expect(stderr).toMatch(/mixed\.jsonl:4: the output has no column for chosen, rejected, reward_chosen, reward_rejected, margin\b/);
    });

    it("CSV files with different headers: columns matched by name", async () => {
        const [first, second] = [join(tmp, "h1.csv"), join(tmp, "h2.csv")];
        writeFileSync(first, "prompt,response\nHi,Hello\n");
        writeFileSync(second, "response,prompt,id\nYo,Hi,7\n");
        const { stdout, stderr } = await runInProcess(["score", first, second, "-m", tinyModel]);
        expect(csvRows(stdout).map((r) => [r.prompt, r.response])).toEqual([["Hi", "Hello"], ["Hi", "Yo"]]);
        expect(stderr).toMatch(/h2\.csv:2: the output has no column for id\b/);
    });

    it("--on-overlong skip: a skipped column", async () => {
        const { stdout } = await runInProcess(["score", `${dir}/sft.tsv`, "-m", tinyModel, "--on-overlong", "skip", "--context-size", "5", "--format", "csv"]);
        expect(stdout.split("\n")[0]).toBe("system,prompt,response,reward,skipped,error");
        for (const row of csvRows(stdout)) expect(row).toMatchObject({ reward: "", skipped: expect.stringMatching(/over the 5-token context/), error: "" });
    });

    it("--on-overlong truncate: a truncated column", async () => {
        const turns = Array.from({ length: 6 }, (_, i) => [
            { role: "user", content: `question ${i} `.repeat(8) }, { role: "assistant", content: `answer ${i} `.repeat(8) }]).flat();
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300", "--on-overlong", "truncate", "--format", "csv"],
            JSON.stringify({ messages: turns }));
        expect(code).toBe(0);
        expect(stdout.split("\n")[0]).toBe("messages,reward,truncated,error");
        expect(csvRows(stdout)[0]).toMatchObject({ truncated: "true", error: "" });
    });
});

describe("records that already hold an output field are rewritten in place", () => {
    it("re-scoring keeps every other byte, even of a record nested 100k deep, and the rows after it", async () => {
        const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
        const lines = [`{"id": 12345678901234567890, "x": 1.0, "prompt": "Hi", "response": "Hello", "reward":0}`,
            `{"prompt": "Hi", "response": "Hello", "d": ${deep}, "reward":0}`, `{"prompt": "Hi", "response": "Hello","reward":0}`];
        const input = join(tmp, "rescore.jsonl");
        writeFileSync(input, lines.join("\n") + "\n");
        const { code, stdout } = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
        const fresh = await runInProcess(["score", "-", "-m", tinyModel], JSON.stringify({ prompt: "Hi", response: "Hello" }));
        expect(code).toBe(0);
        const reward = parseJsonl(fresh.stdout)[0]!.reward;
        expect(stdout).toBe(lines.map((l) => `${l.replace('"reward":0', `"reward":${JSON.stringify(reward)}`)}\n`).join(""));
    });

    it("a pretty-printed JSON array item comes out on one line with its number formats", async () => {
        const input = join(tmp, "pretty.json");
        const record = '{\n    "id": 12345678901234567890,\n    "x": 1.0,\n    "prompt": "Hi  there",\n    "response": "Hello"\n  }';
        writeFileSync(input, `[\n  ${record}\n]\n`);
        const { code, stdout } = await runInProcess(["score", input, "-m", tinyModel]);
        expect(code).toBe(0);
        expect(stdout.startsWith(`${record.replace(/\n\s*/g, "").slice(0, -1)},"reward":`)).toBe(true);
        expect(stdout.trimEnd().split("\n")).toHaveLength(1);
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
        expect(stderr).toMatch(/scored 2 of 7 rows \(5 not\)/);
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
