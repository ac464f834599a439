import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { demoConversations, parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const demoLines = readFileSync(demoConversations, "utf8").trim().split("\n");
const dir = "fixtures/formats";
const tmp = mkdtempSync(join(tmpdir(), "nemoreward-score-"));

describe("nemoreward score (built CLI)", () => {
    it("scores a file: one JSON line per conversation, input record unchanged, in order", async () => {
        const { code, stdout, stderr } = await runBuiltCli(["score", demoConversations, "--model", tinyModel]);
        expect(code).toBe(0);
        const lines = stdout.trim().split("\n");
        expect(lines).toHaveLength(demoLines.length);
        lines.forEach((line, i) => {
            const row = JSON.parse(line);
            expect(typeof row.reward).toBe("number");
            const { reward, ...rest } = row;
            expect(rest).toEqual(JSON.parse(demoLines[i]!));
            // the original text of the record is kept byte for byte
            expect(line.startsWith(demoLines[i]!.slice(0, -1))).toBe(true);
        });
        expect(stderr).toMatch(/cpu backend, 0 of 3 layers on the GPU/);
        expect(stderr).toMatch(/scored 5 of 5 rows/);
    });

    it("reads standard input when INPUT is omitted or '-', with the same rewards", async () => {
        const fromFile = parseJsonl((await runBuiltCli(["score", demoConversations, "-m", tinyModel])).stdout);
        const piped = await runBuiltCli(["score", "-m", tinyModel], readFileSync(demoConversations, "utf8"));
        const dash = await runBuiltCli(["score", "-", "-m", tinyModel], readFileSync(demoConversations, "utf8"));
        expect(piped.code).toBe(0);
        expect(parseJsonl(piped.stdout)).toEqual(fromFile);
        expect(parseJsonl(dash.stdout)).toEqual(fromFile);
    });

    it("keeps every non-blank line of a broken file, marks the bad ones, names file:line and exits 3", async () => {
        const good = demoLines[0]!;
        const text = [
            good,
            "not json at all",
            "",
            '{"messages": [{"role": "user", "content": "no answer yet"}]}',
            '["an", "array"]',
            '{"prompt": "no messages field"}',
            good,
        ].join("\n");
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], text);
        expect(code).toBe(3);
        const rows = parseJsonl(stdout);
        expect(rows).toHaveLength(6);
        expect(rows.map((r) => r.reward === null)).toEqual([false, true, true, true, true, false]);
        expect(rows[1]).toMatchObject({ line: 2, reward: null, error: expect.stringMatching(/not valid JSON/) });
        expect(rows[2]!.error).toMatch(/not "assistant"/);
        expect(rows[2]!.messages).toBeDefined();
        expect(rows[3]).toMatchObject({ line: 5, error: expect.stringMatching(/not a JSON object/) });
        expect(rows[4]).toMatchObject({ prompt: "no messages field", error: '"response" is missing' });
        // the repeat reuses the cached prefix, and still scores bit for bit the same
        expect(rows[5]!.reward).toBe(rows[0]!.reward);
        for (const line of [2, 4, 5, 6]) expect(stderr).toContain(`<stdin>:${line}:`);
    });

    it("turns a conversation longer than the context into an error row naming its size and the limit", async () => {
        const long = JSON.stringify({ messages: [{ role: "user", content: "x ".repeat(200) }, { role: "assistant", content: "ok" }] });
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "256"], `${long}\n${demoLines[0]}`);
        expect(code).toBe(3);
        const [tooLong, fine] = parseJsonl(stdout);
        expect(tooLong!.reward).toBeNull();
        expect(tooLong!.error).toMatch(/is at least 4\d\d tokens, over the 256-token context/);
        expect(typeof fine!.reward).toBe("number");
    });

    it("prints only data on stdout: progress and warnings go to stderr", async () => {
        const { stdout, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel], `${demoLines[0]}\nbroken\n`);
        expect(() => parseJsonl(stdout)).not.toThrow();
        expect(stdout).not.toMatch(/nemoreward:|llama|warning/);
        expect(stderr).toMatch(/<stdin>:2: not valid JSON/);
    });

    it("is a usage error (exit 2) to name a missing input file or a bad option value", async () => {
        const missing = await runBuiltCli(["score", "no-such-file.jsonl", "-m", tinyModel]);
        expect(missing.code).toBe(2);
        expect(missing.stderr).toMatch(/input file not found: no-such-file.jsonl/);
        expect(missing.stdout).toBe("");
        const bad = await runBuiltCli(["score", "-m", tinyModel, "--context-size", "lots"]);
        expect(bad.code).toBe(2);
        expect(bad.stderr).toMatch(/context-size/);
    });

    it("--gpu cuda runs on CUDA where it starts, and otherwise falls back to the CPU with a warning", async () => {
        const { code, stdout, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--gpu", "cuda", "--gpu-layers", "max"]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toHaveLength(5);
        if (/cuda backend/.test(stderr)) expect(stderr).toMatch(/cuda backend, 3 of 3 layers on the GPU/);
        else expect(stderr).toMatch(/warning: cuda cannot start here \(.+\); falling back to the CPU[\s\S]*cpu backend, 0 of 3 layers/);
    });
});

it("stdout stays parseable while progress lines go to stderr", async () => {
    const lines = readFileSync(`${dir}/sharegpt.jsonl`, "utf8").repeat(10);
    const { code, stdout, stderr } = await runBuiltCli(["score", "-", "-m", tinyModel, "--progress-seconds", "0"], lines);
    expect(code).toBe(0);
    expect(parseJsonl(stdout)).toHaveLength(30);
    // a plain progress line per row (stderr is not a terminal), then the summary
    expect(stderr.match(/^nemoreward: scored \d+ rows?, \d+ tokens in .* rows\/s, \d+ tokens\/s\)$/gm)!.length).toBeGreaterThanOrEqual(30);
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

describe("over-length conversations", () => {
    const turns = (n: number) => Array.from({ length: n }, (_, i) => [
        { role: "user", content: `question ${i} `.repeat(8) }, { role: "assistant", content: `answer ${i} `.repeat(8) },
    ]).flat();
    const record = { messages: [{ role: "system", content: "Be brief." }, ...turns(6)] };

    it("skip: the row is kept with an empty reward and the run succeeds", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--context-size", "300", "--on-overlong", "skip"], JSON.stringify(record));
        expect(code).toBe(0);
        expect(stderr).toMatch(/scored 0 of 1 row \(1 skipped\)/);
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
