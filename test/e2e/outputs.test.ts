import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { parseJsonl, readFile as readRowsOf, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const dir = "fixtures/formats";
const tmp = mkdtempSync(join(tmpdir(), "nemoreward-outputs-"));

describe("output", () => {
    it("CSV in, CSV out: the original columns round-trip byte for byte, reward, special_tokens_in_content and error added", async () => {
        const input = readFileSync(`${dir}/helpsteer2.csv`, "utf8");
        const { code, stdout } = await runBuiltCli(["score", `${dir}/helpsteer2.csv`, "-m", tinyModel]);
        expect(code).toBe(0);
        const records: string[][] = parse(stdout);
        expect(records[0]!.slice(-3)).toEqual(["reward", "special_tokens_in_content", "error"]);
        expect(records.map((r) => r.slice(0, -3))).toEqual(parse(input));
        // without the three added columns, the output is the input to the byte (quoting, CRLF, field text)
        const stripped = stdout.replace(",reward,special_tokens_in_content,error\r\n", "\r\n").replace(/,-?\d+(?:\.\d+)?(?:e-?\d+)?,,\r\n/g, "\r\n");
        expect(stripped).toBe(input);
        expect(records.slice(1).every((r) => Number.isFinite(Number(r.at(-3))) && r.at(-2) === "" && r.at(-1) === "")).toBe(true);
    });

    it("-o FILE picks the format from the extension; --format json writes one array", async () => {
        const out = join(tmp, "scored.tsv");
        const toFile = await runInProcess(["score", `${dir}/sharegpt.jsonl`, "-m", tinyModel, "-o", out]);
        expect(toFile.code).toBe(0);
        expect(toFile.stdout).toBe("");
        const lines = readFileSync(out, "utf8").trimEnd().split("\n");
        expect(lines[0]).toBe("id\tconversations\treward\tspecial_tokens_in_content\terror");
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
        expect(stdout.split("\n")[0]).toBe("prompt,response,reward,special_tokens_in_content,error");
        const rows = csvRows(stdout);
        expect(rows.map((r) => [r.prompt, r.response])).toEqual([["", ""], ...records.map((r) => [r.prompt, r.response ?? ""])]);
        expect(rows[0]!.error).toMatch(/not valid JSON/);
        expect(rows.map((r) => r.reward === "")).toEqual([true, false, true, true, false]);
        expect(rows[2]!.error).toMatch(/^the output has no column for extra\b/);
        expect(rows[3]!.error).toMatch(/^the output has no column for chosen, rejected, reward_chosen, reward_rejected, margin\b/);
        expect(stderr).toMatch(/mixed\.jsonl:3: the output has no column for extra\b/);
        expect(stderr).toMatch(/mixed\.jsonl:4: the output has no column for chosen, rejected, reward_chosen, reward_rejected, margin\b/);
    });

    it("a CSV whose rows cannot be read waits too: the columns are those of the first row with a record, in the next file", async () => {
        const [bad, good] = [join(tmp, "ragged-only.csv"), join(tmp, "good-after.csv")];
        writeFileSync(bad, "q,r\nx,y,z\n");
        writeFileSync(good, "prompt,response\nHi,Hello\nHi,Yo\n");
        const { code, stdout } = await runInProcess(["score", bad, good, "-m", tinyModel, "--format", "csv"]);
        expect(code).toBe(3);
        expect(stdout.split("\n")[0]).toBe("prompt,response,reward,special_tokens_in_content,error");
        const rows = csvRows(stdout);
        expect(rows.map((r) => [r.prompt, r.response, r.reward === "", r.error.slice(0, 19)])).toEqual(
            [["", "", true, "expected 2 columns,"], ["Hi", "Hello", false, ""], ["Hi", "Yo", false, ""]]);
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
        expect(stdout.split("\n")[0]).toBe("system,prompt,response,reward,skipped,special_tokens_in_content,error");
        for (const row of csvRows(stdout)) expect(row).toMatchObject({ reward: "", skipped: expect.stringMatching(/over the 5-token context/), error: "" });
    });

    it("--on-overlong truncate: a truncated column", async () => {
        const turns = Array.from({ length: 6 }, (_, i) => [
            { role: "user", content: `question ${i} `.repeat(8) }, { role: "assistant", content: `answer ${i} `.repeat(8) }]).flat();
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300", "--on-overlong", "truncate", "--format", "csv"],
            JSON.stringify({ messages: turns }));
        expect(code).toBe(0);
        expect(stdout.split("\n")[0]).toBe("messages,reward,truncated,special_tokens_in_content,error");
        expect(csvRows(stdout)[0]).toMatchObject({ truncated: "true", error: "" });
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
        expect(stdout.split("\r\n").slice(0, 3).map((l) => l.split(",").length)).toEqual([5, 5, 5]); // a file scored before the column was there: it comes after the earlier run's
        expect(stdout.endsWith("\r\n")).toBe(true);
        expect(stdout.replaceAll("\r\n", "")).not.toContain("\n");
    });
});

describe("records that already hold an output field are rewritten in place", () => {
    it("re-scoring keeps every other byte, even of a record nested 100k deep, and the rows after it", async () => {
        const deep = `${"[".repeat(100_000)}${"]".repeat(100_000)}`;
        const lines = [`{"id": 12345678901234567890, "x": 1.0, "prompt": "Hi", "response": "Hello", "reward":0.5}`,
            `{"prompt": "Hi", "response": "Hello", "d": ${deep}, "reward":0.5}`, `{"prompt": "Hi", "response": "Hello","reward":0.5}`];
        const input = join(tmp, "rescore.jsonl");
        writeFileSync(input, lines.join("\n") + "\n");
        const { code, stdout } = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
        const fresh = await runInProcess(["score", "-", "-m", tinyModel], JSON.stringify({ prompt: "Hi", response: "Hello" }));
        expect(code).toBe(0);
        const reward = parseJsonl(fresh.stdout)[0]!.reward;
        expect(stdout).toBe(lines.map((l) => `${l.replace('"reward":0.5', `"reward":${JSON.stringify(reward)}`)}\n`).join(""));
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

describe("an input of no rows", () => {
    it("a header-only CSV or TSV gives its header plus the tool's columns, and says 0 rows", async () => {
        for (const [name, text, header] of [["empty.csv", "prompt,response\r\n", "prompt,response,reward,special_tokens_in_content,error\r\n"],
            ["empty.tsv", "prompt\tnote\tresponse\n", "prompt\tnote\tresponse\treward\tspecial_tokens_in_content\terror\n"],
            ["own-error.csv", "prompt,response,error\n", "prompt,response,error,reward,special_tokens_in_content,nemoreward_error\n"]]) {
            const path = join(tmp, name!), out = join(tmp, `out-${name}`);
            writeFileSync(path, text!);
            const { code, stderr } = await runInProcess(["score", path, "-m", tinyModel, "-o", out]);
            expect(code).toBe(0);
            expect(stderr).toMatch(/scored 0 rows/);
            // a warning about the header names the file's header line, not a row ":0" that does not exist
            if (name === "own-error.csv") expect(stderr).toMatch(new RegExp(`warning: ${path.replace(/[.]/g, "[.]")}:1: the input has a field "error"`));
            expect(readFileSync(out, "utf8")).toBe(header);
        }
    });

    it("an empty input written as CSV gives the tool's columns; as JSONL, nothing", async () => {
        const csv = await runInProcess(["score", "-", "-m", tinyModel, "--format", "csv"], "");
        expect(csv.code).toBe(0);
        expect(csv.stdout).toBe("reward,special_tokens_in_content,error\n");
        expect(csv.stderr).toMatch(/scored 0 rows/);
        const jsonl = await runInProcess(["score", "-", "-m", tinyModel], "");
        expect(jsonl.stdout).toBe("");
    });
});

describe("the user's own fields named like the tool's", () => {
    const csvRecords = async (path: string) => {
        const rows: Record<string, unknown>[] = [];
        for (const row of await readRowsOf(path)) rows.push(row.record!);
        return rows;
    };

    it("CSV prompt,response,error: the user's error column stays, the tool's goes in nemoreward_error, also when scored again", async () => {
        const input = join(tmp, "own-error.csv");
        // the second row is over the context: an error row, scored or scored again
        writeFileSync(input, `prompt,response,error\nP1,R1,annotator timeout\nP2,${"word ".repeat(200)},\n`);
        const once = join(tmp, "own-error-once.csv"), twice = join(tmp, "own-error-twice.csv");
        const first = await runInProcess(["score", input, "-m", tinyModel, "-o", once, "--context-size", "150"]);
        expect(first.code).toBe(3);
        expect(first.stderr.match(/has a field "error" of its own, kept as it is; nemoreward's "error" goes in "nemoreward_error"/g)).toHaveLength(1);
        expect(readFileSync(once, "utf8").split("\n")[0]).toBe("prompt,response,error,reward,special_tokens_in_content,nemoreward_error");
        const rows = await csvRecords(once);
        expect(rows.map((row) => row["error"])).toEqual(["annotator timeout", ""]);
        expect(rows.map((row) => row["nemoreward_error"])).toEqual(["", expect.stringMatching(/over the 150-token context/)]);
        // written in two runs, the second resuming the first (the file's own columns tell where the tool's are)
        const part = join(tmp, "own-error-part.csv"), resumed = join(tmp, "own-error-resumed.csv");
        writeFileSync(part, readFileSync(input, "utf8").split("\n").slice(0, 2).join("\n") + "\n");
        expect((await runInProcess(["score", part, "-m", tinyModel, "-o", resumed, "--context-size", "150"])).code).toBe(0);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", resumed, "--context-size", "150", "--resume"])).code).toBe(3);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(once, "utf8"));
        const second = await runInProcess(["score", once, "-m", tinyModel, "-o", twice, "--context-size", "150"]);
        expect(second.code).toBe(3);
        expect(readFileSync(twice, "utf8").split("\n")[0]).toBe("prompt,response,error,reward,special_tokens_in_content,nemoreward_error");
        const again = await csvRecords(twice);
        expect(again.map((row) => row["error"])).toEqual(["annotator timeout", ""]);
        expect(again.map((row) => row["nemoreward_error"])).toEqual(["", expect.stringMatching(/over the 150-token context/)]);
        expect(again.map((row) => row["reward"])).toEqual(rows.map((row) => row["reward"]));
    });

    it("JSONL: a record that cannot be scored keeps its own error; every added field (rank, z, truncated, margin) keeps clear of the user's", async () => {
        const records = [
            { prompt: "Hi", response: "Hello", rank: "gold", z: "zulu", truncated: "no", error: "mine" },
            { prompt: "Hi", error: "mine too" },
            { prompt: "Hi", response: "Yo", rank: "silver", z: "x", truncated: "no", error: "" },
        ];
        const { stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--rank", "--on-overlong", "truncate"],
            records.map((r) => JSON.stringify(r)).join("\n"));
        const out = parseJsonl(stdout);
        for (const [i, record] of records.entries()) expect(out[i]).toMatchObject(record);
        expect(out[1]).toMatchObject({ reward: null, nemoreward_error: expect.stringMatching(/response/) });
        expect(out.filter((row) => typeof row.reward === "number").map((row) => row.nemoreward_rank).sort()).toEqual([1, 2]);
        expect(typeof out[0]!.nemoreward_z).toBe("number");
        for (const name of ["rank", "z", "error"]) expect(stderr).toContain(`nemoreward's "${name}" goes in "nemoreward_${name}"`);
        const pairs = await runInProcess(["score", "-", "-m", tinyModel], JSON.stringify({ prompt: "Hi", chosen: "Hello", rejected: "Go away", margin: "wide" }));
        expect(parseJsonl(pairs.stdout)[0]).toMatchObject({ margin: "wide", nemoreward_margin: expect.any(Number) });
    });
});
