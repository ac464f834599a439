import { execFileSync } from "node:child_process";
import { existsSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { plural } from "../../src/plural.js";
import { jsonl, newDir, parseJsonl, repoRoot, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = newDir("papercuts");

describe("errors name the field at fault", () => {
    it('"rejected": [] is named as "rejected", not "messages"; a best-of-N response by its index', async () => {
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel], jsonl([
            { prompt: "2+2?", chosen: "4", rejected: [] },
            { prompt: "2+2?", responses: ["4", [{ role: "assistant" }]] },
        ]));
        const [pair, many] = parseJsonl(stdout);
        expect(pair!.error).toBe('"rejected" is not a non-empty list of messages');
        expect(many!.error).toBe('"responses[1][0]" has no text content');
    });

    it("an over-long pair says which of its responses is over the context", async () => {
        const long = "word ".repeat(300);
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "200"], jsonl([
            { prompt: "Say hi.", chosen: "Hi!", rejected: long },
            { prompt: "Say hi.", responses: ["Hi!", "Hello.", long] },
        ]));
        const [pair, many] = parseJsonl(stdout);
        expect(pair!.error).toMatch(/^"rejected": the conversation is at least \d+ tokens, over the 200-token context/);
        expect(many!.error).toMatch(/^"responses\[2\]": the conversation is at least \d+ tokens/);
    });
});

describe("empty responses", () => {
    it("an empty response is scored and counted in the summary; a missing one (null) is an error row", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], jsonl([
            { prompt: "Say hi.", response: "" },
            { prompt: "Say hi.", response: "   " },
            { prompt: "Say hi.", response: null },
            { messages: [{ role: "user", content: "Say hi." }, { role: "assistant", content: null }] },
            { prompt: "Say hi.", response: "Hi!" },
        ]));
        expect(code).toBe(exitCodes.someRowsFailed);
        const rows = parseJsonl(stdout);
        expect(rows.map((r) => typeof r.reward)).toEqual(["number", "number", "object", "object", "number"]);
        expect(rows[2]!.error).toBe('"response" is null: no text to score');
        expect(rows[3]!.error).toBe('"messages[1]" has no text content');
        expect(stderr).toMatch(/; 2 rows with an empty response \(scored\)/);
    });
});

describe("CSV on standard input", () => {
    it("is refused before the model loads, and no summary line says rows were scored", async () => {
        const { code, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel], "prompt,response\nSay hi.,Hi!\n");
        expect(code).toBe(exitCodes.usage);
        expect(stderr).not.toMatch(/scored|loaded|threads/);
        expect(stderr).toMatch(/standard input looks like CSV, not JSONL .*pass --input-format csv/);
    });
});

describe("plurals", () => {
    it("one row is a row", async () => {
        expect([plural(0, "row"), plural(1, "row"), plural(2, "row")]).toEqual(["0 rows", "1 row", "2 rows"]);
        const { stderr } = await runInProcess(["score", "-", "-m", tinyModel], jsonl([{ prompt: "<|eot_id|>", response: "Hi" }]));
        expect(stderr).toMatch(/scored 1 row, /);
        expect(stderr).toMatch(/; warning: 1 row with special-token text/);
        expect(stderr).not.toMatch(/(?<![\d.])1 rows\b/);
    });
});

describe("CSV progress", () => {
    it("a CSV file's rows are counted for the total (a quoted cell may span lines)", async () => {
        const csv = join(tmp, "multi.csv");
        writeFileSync(csv, 'prompt,response\n"Say\nhi.",Hi!\n"2+2?","4, ""four"""\n\nq,"a\r\nb"\n');
        const { stderr } = await runInProcess(["score", csv, "-m", tinyModel]);
        expect(stderr).toMatch(/scored 3 of 3 rows/);
    });
});

describe("installing the command", () => {
    it("npm install -g . puts nemoreward on PATH (here a temporary prefix), offline", { timeout: 120_000 }, () => {
        const prefix = newDir("prefix");
        execFileSync("npm", ["install", "-g", repoRoot, "--prefix", prefix, "--offline", "--no-audit", "--no-fund", "--ignore-scripts"],
            { encoding: "utf8", env: { ...process.env, npm_config_cache: join(prefix, "cache") } });
        const bin = join(prefix, "bin", "nemoreward");
        expect(existsSync(bin)).toBe(true);
        expect(execFileSync(bin, ["--version"], { encoding: "utf8" }).trim()).toMatch(/^\d+\.\d+\.\d+$/);
    });
});
