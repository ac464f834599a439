import { spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { main } from "../../src/cli/main.js";
import { tinySpec, writeModel } from "../../fixtures/makeModel.js";
import { demoConversations, parseJsonl, repoRoot, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-robust-"));

/** Best-of-3 style data: runs of rows sharing a prompt, so that prefix reuse is at work across rows. */
function dataset(rows: number): string {
    const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split(" ");
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(" ");
    let prompt = "";
    return Array.from({ length: rows }, (_, i) => {
        if (i % 3 === 0) prompt = text(20);
        return JSON.stringify({ id: i, prompt, response: text(5 + Math.floor(random() * 30)) });
    }).join("\n") + "\n";
}

const input = join(tmp, "input.jsonl");
writeFileSync(input, dataset(600));
let uninterrupted: string | undefined;
async function expectedOutput(): Promise<string> {
    if (uninterrupted === undefined) {
        const run = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
        expect(run.code).toBe(0);
        uninterrupted = run.stdout;
    }
    return uninterrupted;
}

/** Starts the CLI and SIGKILLs it once `file` holds at least `bytes` bytes. */
function killWhenWritten(args: string[], file: string, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { stdio: "ignore" });
        const timer = setInterval(() => {
            if (existsSync(file) && statSync(file).size >= bytes) child.kill("SIGKILL");
        }, 5);
        child.on("exit", (code, signal) => {
            clearInterval(timer);
            if (signal === "SIGKILL") resolve();
            else reject(new Error(`the run ended by itself (${code}) before it could be killed`));
        });
    });
}

describe("resume", () => {
    it("a run SIGKILLed mid-way and resumed gives byte for byte the output of an uninterrupted run", async () => {
        const out = join(tmp, "resumed.jsonl");
        const args = ["score", input, "-m", tinyModel, "-q", "-o", out, "--resume"];
        await killWhenWritten(args, out, 20_000);
        const partial = readFileSync(out, "utf8");
        expect(partial.length).toBeLessThan((await expectedOutput()).length);
        await killWhenWritten(args, out, partial.length + 20_000);
        const resumed = await runBuiltCli(args);
        expect(resumed.code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(await expectedOutput());
    });

    it("refuses to resume a file written from other input", async () => {
        const out = join(tmp, "other.jsonl");
        expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume"])).code).toBe(0);
        const { code, stderr } = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(code).toBe(2);
        expect(stderr).toMatch(/written from other input: row 1/);
        expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(5);
    });

    it("refuses to finish a file with another model or other settings, naming what changed", async () => {
        const out = join(tmp, "settings.jsonl");
        expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume"])).code).toBe(0);
        const before = readFileSync(out);
        // another checkpoint with the same name and size: only its weights differ
        mkdirSync(join(tmp, "other"), { recursive: true });
        const other = join(tmp, "other", "tiny-reward.gguf");
        writeModel(other, { ...tinySpec, seed: tinySpec.seed + 1 });
        expect(statSync(other).size).toBe(statSync(tinyModel).size);
        const model = await runInProcess(["score", demoConversations, "-m", other, "-o", out, "--resume"]);
        expect(model.code).toBe(2);
        expect(model.stderr).toMatch(/written with other settings \(model "tiny-reward.gguf \(\d+ bytes, [0-9a-f]{16}\)" → "tiny-reward.gguf/);
        const field = await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume", "--field", "r2", "--precise"]);
        expect(field.stderr).toMatch(/field "reward" → "r2", precise false → true/);
        expect(readFileSync(out)).toEqual(before);
        // the same settings again, the model reached through a symlink: nothing left to do, the file unchanged
        const link = join(tmp, "current.gguf");
        symlinkSync(tinyModel, link);
        expect((await runInProcess(["score", demoConversations, "-m", link, "-o", out, "--resume"])).code).toBe(0);
        expect(readFileSync(out)).toEqual(before);
    });

    it("CSV output from JSONL: a resumed run keeps the columns of the file, not those of its next row", async () => {
        const rows = [{ id: 1, prompt: "Hi", response: "Hello" }, { id: 2, prompt: "Hi", response: "Yo" },
            { response: "Hey", prompt: "Hi", id: 3 }, { id: 4, prompt: "Hi", response: "Howdy" }];
        const part = join(tmp, "part.jsonl"), whole = join(tmp, "whole.jsonl");
        writeFileSync(part, rows.slice(0, 2).map((r) => JSON.stringify(r)).join("\n") + "\n");
        writeFileSync(whole, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const resumed = join(tmp, "resumed.csv"), straight = join(tmp, "straight.csv");
        expect((await runInProcess(["score", part, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        expect((await runInProcess(["score", whole, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        expect((await runInProcess(["score", whole, "-m", tinyModel, "-o", straight])).code).toBe(0);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(straight, "utf8"));
        expect(readFileSync(resumed, "utf8").split("\n")[3]).toMatch(/^3,Hi,Hey,-?\d/);
    });

    it("a scored CSV scored again and resumed: the same bytes as one run, and no warning", async () => {
        const scored = join(tmp, "scored-once.csv");
        expect((await runInProcess(["score", `${repoRoot}fixtures/formats/helpsteer2.csv`, "-m", tinyModel, "-o", scored])).code).toBe(0);
        const text = readFileSync(scored, "utf8");
        const firstRows = join(tmp, "scored-part.csv");
        writeFileSync(firstRows, text.slice(0, text.indexOf("\n", text.indexOf("\n") + 1) + 1)); // the header and one row
        const resumed = join(tmp, "rescored.csv"), straight = join(tmp, "rescored-straight.csv");
        expect((await runInProcess(["score", firstRows, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        const rest = await runInProcess(["score", scored, "-m", tinyModel, "-o", resumed, "--resume"]);
        expect(rest.code).toBe(0);
        expect(rest.stderr).not.toMatch(/no column for/);
        expect((await runInProcess(["score", scored, "-m", tinyModel, "-o", straight])).code).toBe(0);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(straight, "utf8"));
    });

    it("needs -o FILE and a streamable format", async () => {
        expect((await runInProcess(["score", input, "-m", tinyModel, "--resume"])).stderr).toMatch(/--resume needs -o FILE/);
        expect((await runInProcess(["score", input, "-m", tinyModel, "--resume", "-o", join(tmp, "x.json")])).code).toBe(2);
    });
});

describe("shards", () => {
    it("three shards merged back give byte for byte the unsharded output", async () => {
        const parts = [0, 1, 2].map((k) => join(tmp, `part-${k}.jsonl`));
        const runs = await Promise.all(parts.map((part, k) => runBuiltCli(["score", input, "-m", tinyModel, "-q", "--threads", "1", "--shard", `${k}/3`, "-o", part])));
        for (const run of runs) expect(run.code).toBe(0);
        expect(readFileSync(parts[0]!, "utf8").trim().split("\n")).toHaveLength(200);
        const merged = join(tmp, "merged.jsonl");
        // given out of order: the .shard records put them right
        const merge = await runInProcess(["merge", merged, parts[2]!, parts[0]!, parts[1]!]);
        expect(merge.code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(await expectedOutput());
    });

    it("merge refuses a missing shard and a shard short of rows", async () => {
        const parts = [0, 1].map((k) => join(tmp, `small-${k}.jsonl`));
        for (const [k, part] of parts.entries()) await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", `${k}/2`, "-o", part]);
        // CSV shards of other columns (each shard's header comes from its own first row) are refused, leaving nothing
        const [a, b] = [join(tmp, "cols-a.csv"), join(tmp, "cols-b.csv")];
        writeFileSync(a, "prompt,response,reward\nP,R,1\n");
        writeFileSync(b, "response,prompt,reward\nR,P,2\n");
        const columns = await runInProcess(["merge", join(tmp, "cols.csv"), a, b]);
        expect(columns.code).toBe(2);
        expect(columns.stderr).toMatch(/has other columns than/);
        expect(existsSync(join(tmp, "cols.csv")) || existsSync(join(tmp, "cols.csv.partial"))).toBe(false);
        const otherFormat = await runInProcess(["merge", join(tmp, "m0.csv"), ...parts]);
        expect(otherFormat.code).toBe(2);
        expect(otherFormat.stderr).toMatch(/the shards are jsonl; .*m0.csv names csv/);
        const missing = await runInProcess(["merge", join(tmp, "m1.jsonl"), parts[0]!]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/shard 1\/2 is missing/);
        writeFileSync(parts[0]!, readFileSync(parts[0]!, "utf8").split("\n").slice(0, 1).join("\n") + "\n");
        const short = await runInProcess(["merge", join(tmp, "m2.jsonl"), ...parts]);
        expect(short.code).toBe(2);
        expect(short.stderr).toMatch(/more rows than the shards before it|holds 1 rows but its run wrote 3/);
    });
});

describe("refusing what would lose rows", () => {
    it("-o naming an input file (also through another path), and merge writing over a shard: exit 2, input untouched", async () => {
        const data = join(tmp, "precious.jsonl");
        writeFileSync(data, readFileSync(demoConversations));
        for (const output of [data, join(tmp, ".", "precious.jsonl")]) {
            const { code, stderr } = await runInProcess(["score", data, "-m", tinyModel, "-o", output]);
            expect(code).toBe(2);
            expect(stderr).toMatch(/is also an input/);
        }
        // `nemoreward score -o FILE < FILE`: standard input is that file
        const redirected = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-m", tinyModel, "-o", data],
            { stdio: [openSync(data, "r"), "ignore", "pipe"] });
        let redirectedErr = "";
        redirected.stderr!.on("data", (c) => (redirectedErr += c));
        expect(await new Promise((resolve) => redirected.on("close", resolve))).toBe(2);
        expect(redirectedErr).toMatch(/is also an input \(-\)/);
        // /dev/null in and out is no file of data
        const nulls = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-m", tinyModel, "-o", "/dev/null", "--format", "jsonl"],
            { stdio: [openSync("/dev/null", "r"), "ignore", "ignore"] });
        expect(await new Promise((resolve) => nulls.on("close", resolve))).toBe(0);
        // a run that cannot start (no such chat template) leaves an existing output alone
        const previous = join(tmp, "previous.jsonl");
        writeFileSync(previous, "kept\n");
        const noTemplate = await runInProcess(["score", data, "-m", tinyModel, "-o", previous, "--chat-template", join(tmp, "nope.jinja")]);
        expect(noTemplate.code).toBe(2);
        expect(noTemplate.stderr).toMatch(/cannot read chat template/);
        expect(readFileSync(previous, "utf8")).toBe("kept\n");
        const pairsRun = await runInProcess(["pairs", data, "-m", tinyModel, "-o", data]);
        expect(pairsRun.code).toBe(2);
        const evalRun = await runInProcess(["eval", data, "-m", tinyModel, "--per-row", data]);
        expect(evalRun.code).toBe(2);
        const parts = [0, 1].map((k) => join(tmp, `keep-${k}.jsonl`));
        for (const [k, part] of parts.entries()) await runInProcess(["score", data, "-m", tinyModel, "--shard", `${k}/2`, "-o", part]);
        const shard0 = readFileSync(parts[0]!, "utf8");
        const merge = await runInProcess(["merge", parts[0]!, ...parts]);
        expect(merge.code).toBe(2);
        expect(readFileSync(parts[0]!, "utf8")).toBe(shard0);
        expect(readFileSync(data)).toEqual(readFileSync(demoConversations));
    });

    it.each([
        [["--rank", "--resume", "-o", "OUT"], /--rank cannot be combined with --resume/],
        [["--rank", "--shard", "0/2"], /--rank cannot be combined with --shard/],
        [["--group-by", "id"], /--group-by goes with --rank/],
    ])("score %j is a usage error", async (flags, message) => {
        const args = flags.map((f) => (f === "OUT" ? join(tmp, "ranked.jsonl") : f));
        const { code, stderr } = await runInProcess(["score", demoConversations, "-m", tinyModel, ...args]);
        expect(code).toBe(2);
        expect(stderr).toMatch(message);
    });
});

describe("over-length conversations", () => {
    const turns = (n: number) => Array.from({ length: n }, (_, i) => [
        { role: "user", content: `question ${i} `.repeat(8) }, { role: "assistant", content: `answer ${i} `.repeat(8) },
    ]).flat();
    const record = { messages: [{ role: "system", content: "Be brief." }, ...turns(6)] };

    it("skip: the row is kept with an empty reward and the run succeeds", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300", "--on-overlong", "skip"], JSON.stringify(record));
        expect(code).toBe(0);
        expect(stderr).toMatch(/scored 0 of 1 rows \(1 skipped\)/);
        expect(parseJsonl(stdout)[0]).toMatchObject({ reward: null, skipped: expect.stringMatching(/over the 300-token context/) });
    });

    it("truncate: drops the oldest turns after the system message until it fits, marks the row", async () => {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300", "--on-overlong", "truncate"], JSON.stringify(record));
        expect(code).toBe(0);
        const row = parseJsonl(stdout)[0]!;
        expect(row.truncated).toBe(true);
        // the kept conversation is the system message and the newest turns that fit: render it to find which
        const rendered = parseJsonl((await runInProcess(["render", "-", "-m", tinyModel], [2, 4, 6, 8, 10].map((drop) =>
            JSON.stringify({ messages: [record.messages[0], ...record.messages.slice(1 + drop)] })).join("\n"))).stdout);
        const fits = rendered.findIndex((r) => r.n_tokens <= 300);
        expect(fits).toBeGreaterThanOrEqual(0);
        const { stdout: direct } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300"],
            JSON.stringify({ messages: [record.messages[0], ...record.messages.slice(1 + [2, 4, 6, 8, 10][fits]!)] }));
        expect(row.reward).toBe(parseJsonl(direct)[0]!.reward);
    });

    it("truncate: the responses of one prompt lose the same turns, so their rewards stay comparable", async () => {
        const prompt = record.messages.slice(0, -1); // the system message, five exchanges and the final question
        const responses = { chosen: "a longer answer ".repeat(10), rejected: "ok" };
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "400", "--on-overlong", "truncate"],
            JSON.stringify({ prompt, ...responses }));
        expect(code).toBe(0);
        const row = parseJsonl(stdout)[0]!;
        expect(row.truncated).toBe(true);
        // each response alone, with the prompt cut by whole exchanges; the first cut at which the long one fits
        const cuts = [0, 2, 4, 6, 8, 10];
        const withCut = (drop: number, response: string) => ({ messages: [prompt[0], ...prompt.slice(1 + drop), { role: "assistant", content: response }] });
        const lines = cuts.flatMap((drop) => [withCut(drop, responses.chosen), withCut(drop, responses.rejected)]).map((r) => JSON.stringify(r));
        const rendered = parseJsonl((await runInProcess(["render", "-", "-m", tinyModel], lines.join("\n"))).stdout);
        const fits = cuts.findIndex((_, i) => rendered[2 * i]!.n_tokens <= 400);
        // cut alone, the short response would keep more turns: the test tells the two ways apart
        expect(cuts.findIndex((_, i) => rendered[2 * i + 1]!.n_tokens <= 400)).toBeLessThan(fits);
        const direct = parseJsonl((await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "400"], lines.slice(2 * fits, 2 * fits + 2).join("\n"))).stdout);
        expect([row.reward_chosen, row.reward_rejected]).toEqual(direct.map((r) => r.reward));
    });

    it("truncate: an error row when even the final turns do not fit", async () => {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "40", "--on-overlong", "truncate"], JSON.stringify(record));
        expect(code).toBe(3);
        expect(parseJsonl(stdout)[0]!.error).toMatch(/even the final turns/);
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
        expect(broken.stderr).toMatch(/scored 0 of 1 rows \(1 not\)/);
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

describe("broken models: one clear line on stderr, exit 1, no stack trace", () => {
    const broken = (name: string, bytes: Buffer | string) => {
        const path = join(tmp, name);
        writeFileSync(path, bytes);
        return path;
    };
    const writeSpec = (name: string, spec: Partial<typeof tinySpec> & Record<string, unknown>) => {
        const path = join(tmp, name);
        writeModel(path, { ...tinySpec, ...spec });
        return path;
    };
    it.each([
        ["missing", () => join(tmp, "nope.gguf"), /model file not found/],
        ["truncated", () => broken("truncated.gguf", readFileSync(tinyModel).subarray(0, 200_000)), /corrupted or incomplete/],
        ["not GGUF", () => broken("text.gguf", "hello, world\n"), /not a readable GGUF model/],
        ["not llama", () => writeSpec("bert.gguf", { architecture: "bert" }), /is a "bert" model/],
        ["a template that raises", () => writeSpec("raises.gguf", { chatTemplate: "{{ raise_exception('no thanks') }}" }), /no thanks/],
    ])("%s", async (_name, model, message) => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", model()]);
        expect(code).toBe(1);
        expect(stderr).toMatch(message);
        expect(stderr.trim().split("\n")).toHaveLength(1);
    });

    it("a reward token outside the vocabulary", async () => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--reward-token", "5000"]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/reward token 5000 is outside the model's 267-token vocabulary/);
    });

    it("a model without a chat template: one warning, the Llama 3.1 template, the same rewards", async () => {
        const bare = writeSpec("no-template.gguf", { chatTemplate: null });
        const withTemplate = await runInProcess(["score", demoConversations, "-m", tinyModel]);
        const without = await runInProcess(["score", demoConversations, "-m", bare]);
        expect(without.code).toBe(0);
        expect(without.stderr.match(/no chat template; using the Llama 3.1 template/g)).toHaveLength(1);
        expect(parseJsonl(without.stdout)).toEqual(parseJsonl(withTemplate.stdout));
    });
});

it("a full disk: one clear line on stderr and exit 1, not a crash", async () => {
    const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-q", "-o", "/dev/full", "--format", "jsonl"]);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^nemoreward: error: cannot write the output: ENOSPC/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
});

describe("chat templates from a GGUF are untrusted", () => {
    it.each([
        "{{ process.env.NEMOREWARD_SECRET }}",
        "{{ ''.constructor.constructor('return process.env.NEMOREWARD_SECRET')() }}",
        "{{ messages.constructor.constructor('return process')().env.NEMOREWARD_SECRET }}",
        "{{ cycler.__init__.__globals__.os.environ.NEMOREWARD_SECRET }}",
        "{% include '/etc/hostname' %}{{ self._TemplateReference__context }}",
        "{{ range.constructor('return require(\"fs\").readFileSync(\"/etc/hostname\", \"utf8\")')() }}",
    ])("%s reads neither the environment nor files", async (template) => {
        const file = join(tmp, "hostile.jinja");
        writeFileSync(file, `{{ bos_token }}${template}{% for m in messages %}{{ m.content }}{% endfor %}`);
        process.env["NEMOREWARD_SECRET"] = "s3cr3t-value";
        try {
            const { stdout, stderr } = await runInProcess(["render", demoConversations, "-m", tinyModel, "--chat-template", file]);
            const hostname = readFileSync("/etc/hostname", "utf8").trim();
            expect(stdout + stderr).not.toContain("s3cr3t-value");
            if (hostname.length > 3) expect(stdout).not.toContain(hostname);
        } finally {
            delete process.env["NEMOREWARD_SECRET"];
        }
    });
});

describe("signals and pipes", () => {
    it("writes each row as soon as it is scored; SIGTERM while waiting for input stops at once with exit 130", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-", "-m", tinyModel]);
        let stdout = "", stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        child.stdin.write(readFileSync(demoConversations, "utf8").split("\n")[0] + "\n"); // and the input stays open
        await new Promise<void>((resolve) => child.stdout.on("data", (c) => {
            stdout += c;
            if (stdout.endsWith("\n")) resolve();
        }));
        expect(parseJsonl(stdout)).toHaveLength(1);
        child.kill("SIGTERM");
        const code = await Promise.race([
            new Promise((resolve) => child.on("exit", resolve)),
            new Promise((resolve) => setTimeout(() => resolve("still running 10 s after SIGTERM"), 10_000)),
        ]);
        child.kill("SIGKILL");
        expect(code).toBe(130);
        expect(stderr).toMatch(/interrupted/);
    });

    it.each(["score --help", "render --help", "--help"])("a reader gone before the help is written (%s | head): exit 141, no stack trace", async (command) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...command.split(" ")]);
        child.stdout.destroy(); // closed before the CLI has started, so that its first write meets a closed pipe
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(stderr).not.toMatch(/EPIPE|at /);
        expect(code).toBe(141);
    });

    it("the reader closing the output early: a note on stderr and exit 141", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", input, "-m", tinyModel]);
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        child.stdout.once("data", () => child.stdout.destroy());
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(code).toBe(141);
        expect(stderr).toMatch(/closed by its reader/);
        expect(stderr).toMatch(/scored \d+ of 600 rows/);
    });

    it("SIGINT: stops reading, finishes the rows in flight, flushes, prints the summary, exits 130", async () => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", input, "-m", tinyModel]);
        let stdout = "", stderr = "";
        child.stdout.on("data", (c) => {
            stdout += c;
            if (stdout.split("\n").length > 20 && !child.killed) child.kill("SIGINT");
        });
        child.stderr.on("data", (c) => (stderr += c));
        const code = await new Promise((resolve) => child.on("exit", resolve));
        expect(code).toBe(130);
        const rows = parseJsonl(stdout);
        expect(rows.length).toBeGreaterThan(19);
        expect(rows.length).toBeLessThan(600);
        expect(rows.map((r) => r.id)).toEqual(rows.map((_, i) => i));
        expect(stderr).toMatch(/interrupted/);
        expect(stderr).toMatch(/scored \d+ of 600 rows/);
    });
});
