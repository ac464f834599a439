import { existsSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { parseJsonl, repoRoot, runInProcess, tinyModel } from "../helpers.js";

// What a new user trips on (issue 15): each test runs the command line as a user would and checks stdout and
// stderr apart.

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-first-use-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let reference: ReferenceModel;
const rewardOfMessages = (messages: { role: string; content: string }[]) =>
    reference.logits(reference.tokenize(template.render(messages)), [0])[0]!;
const rewardOf = (prompt: string, response: string) =>
    rewardOfMessages([{ role: "user", content: prompt }, { role: "assistant", content: response }]);
const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const stderrLines = (stderr: string) => stderr.split("\n").filter((l) => l !== "");

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
});

describe("pairs says what it wrote and what it dropped", () => {
    it("chosen/rejected rows are pairs already: written with their margin when chosen scores higher", async () => {
        const rows = [
            { prompt: "2+2?", chosen: "4", rejected: "5" },
            { prompt: "Say hi.", chosen: "Hi!", rejected: "Hello there, friend." },
            { prompt: "Capital of France?", chosen: "Paris.", rejected: "Lyon" },
            { prompt: "Capital of France?", chosen: "It is Paris, the capital.", rejected: "I cannot say." },
            { prompt: "Colour?", chosen: "Blue.", rejected: "Blue." },
        ];
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"], jsonl(rows));
        expect(code).toBe(0);
        const margins = rows.map((r) => rewardOf(r.prompt, r.chosen) - rewardOf(r.prompt, r.rejected));
        const kept = rows.filter((_, i) => margins[i]! > 1e-6);
        const out = parseJsonl(stdout);
        expect(out.map((p) => [p.prompt, p.chosen, p.rejected])).toEqual(kept.map((r) => [r.prompt, r.chosen, r.rejected]));
        out.forEach((p) => {
            expect(Math.abs(p.reward_chosen - rewardOf(p.prompt, p.chosen))).toBeLessThan(1e-4);
            expect(p.margin).toBeCloseTo(p.reward_chosen - p.reward_rejected, 12);
        });
        const disagree = margins.filter((m) => m < -1e-6).length;
        expect(stderr).toMatch(new RegExp(`wrote ${kept.length} pairs? from 5 prompts`));
        expect(stderr).toMatch(/1 tie\b/);
        if (disagree > 0) expect(stderr).toContain(`${disagree} where the rejected response scored higher`);
    });

    it("rows with one response per prompt: no pairs, and a warning that says why, even with --quiet", async () => {
        const rows = [{ prompt: "a?", response: "x" }, { prompt: "b?", response: "y" }, { prompt: "c?", response: "z" }];
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "-m", tinyModel, "--quiet"], jsonl(rows));
        expect(code).toBe(0);
        expect(stdout).toBe("");
        expect(stderrLines(stderr)).toHaveLength(1);
        expect(stderr).toMatch(/warning: wrote no pairs from 3 prompts: 3 with fewer than 2 scored responses/);
    });

    it("a tie is never a pair, even at --min-margin 0; --min-margin counts what it drops", async () => {
        const rows = [
            { prompt: "Say hi.", response: "hi" }, { prompt: "Say hi.", response: "hi" }, // a tie by construction
            { prompt: "Name a colour.", responses: ["Blue.", "Red", "I like turtles", "Green is a colour."] },
            { prompt: "2+2?", response_1: "4", response_2: "Five, I think." },
        ];
        const base = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise"], jsonl(rows));
        expect(base.code).toBe(0);
        const colours = rows[2]!.responses!.map((r) => rewardOf("Name a colour.", r));
        const sums = [rewardOf("2+2?", "4"), rewardOf("2+2?", "Five, I think.")];
        const expected = [
            { prompt: "Name a colour.", margin: Math.max(...colours) - Math.min(...colours) },
            { prompt: "2+2?", margin: Math.abs(sums[0]! - sums[1]!) },
        ];
        const out = parseJsonl(base.stdout);
        expect(out.map((p) => p.prompt)).toEqual(expected.map((p) => p.prompt));
        out.forEach((p, i) => expect(p.margin).toBeCloseTo(expected[i]!.margin, 4));
        expect(base.stderr).toMatch(/wrote 2 pairs from 3 prompts; not written: 1 tie\b/);
        // a threshold between the two margins keeps one pair and says so
        const threshold = (expected[0]!.margin + expected[1]!.margin) / 2;
        const filtered = await runInProcess(["pairs", "-", "-m", tinyModel, "--precise", "--min-margin", String(threshold)], jsonl(rows));
        expect(parseJsonl(filtered.stdout)).toHaveLength(1);
        expect(filtered.stderr).toMatch(new RegExp(`wrote 1 pair from 3 prompts; not written: 1 tie, 1 below --min-margin ${threshold}`));
        const negative = await runInProcess(["pairs", "-", "-m", tinyModel, "--min-margin", "-1"], jsonl(rows));
        expect(negative.code).toBe(2);
        expect(negative.stdout).toBe("");
        expect(negative.stderr).toMatch(/^nemoreward: error: .*--min-margin/);
    });
});

describe("inputs in the wrong clothes", () => {
    const rows = [
        { messages: [{ role: "user", content: "2+2?" }, { role: "assistant", content: "4" }] },
        { prompt: "Say hi.", response: "Hi!" },
    ];

    it("a .json file holding JSON Lines (Hugging Face dumps) is read as JSONL", async () => {
        const file = join(tmp, "dump.json");
        writeFileSync(file, jsonl(rows));
        const { code, stdout, stderr } = await runInProcess(["score", file, "-m", tinyModel, "--precise"]);
        expect(code).toBe(0);
        expect(stderr).not.toMatch(/warning|error/);
        const out = parseJsonl(stdout);
        expect(out).toHaveLength(2);
        expect(Math.abs(out[0]!.reward - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
        expect(Math.abs(out[1]!.reward - rewardOf("Say hi.", "Hi!"))).toBeLessThan(1e-4);
    });

    it("CSV piped to stdin without --input-format: one line that says what to pass, no rows", async () => {
        const csv = "prompt,response\n" + Array.from({ length: 3000 }, (_, i) => `question ${i},answer ${i}`).join("\n") + "\n";
        const { code, stdout, stderr } = await runInProcess(["score", "-m", tinyModel, "--quiet"], csv);
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderrLines(stderr)).toEqual([expect.stringMatching(/^nemoreward: error: .*looks like CSV.*--input-format csv/)]);
        const tsv = await runInProcess(["score", "-m", tinyModel, "--quiet"], "prompt\tresponse\nhi\thello\n");
        expect(tsv.code).toBe(2);
        expect(stderrLines(tsv.stderr)).toEqual([expect.stringMatching(/--input-format tsv/)]);
        // with the format given, it is scored
        const given = await runInProcess(["score", "-m", tinyModel, "--input-format", "csv"], "prompt,response\nSay hi.,Hi!\n");
        expect(given.code).toBe(0);
        expect(given.stdout).toMatch(/^prompt,response,reward,error\nSay hi\.,Hi!,-?\d/);
    });
});

describe("each command's help offers what the command does", () => {
    const offered = async (command: string) => {
        const { code, stdout } = await runInProcess([command, "--help"]);
        expect(code).toBe(0);
        return [...stdout.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
    };

    it("render: no engine options (it loads only the vocabulary); they are refused, not ignored", async () => {
        const options = await offered("render");
        for (const name of ["--gpu", "--gpu-layers", "--threads", "--context-size", "--precise"]) expect(options).not.toContain(name);
        expect(options).toEqual(expect.arrayContaining(["--model", "--output", "--format", "--chat-template", "--input-format"]));
        const { code, stdout, stderr } = await runInProcess(["render", "-", "-m", tinyModel, "--gpu-layers", "max"], jsonl(oneRow()));
        expect(code).toBe(2);
        expect(stdout).toBe("");
        expect(stderr).toBe("nemoreward: error: unknown option '--gpu-layers'\n");
    });

    it("pairs: JSONL only, so no --format; -o names JSONL; --field names the reward fields", async () => {
        const options = await offered("pairs");
        expect(options).not.toContain("--format");
        expect((await runInProcess(["pairs", "--help"])).stdout).toMatch(/-o, --output <file>\s+write the pairs \(JSONL\)/);
        const format = await runInProcess(["pairs", "-", "-m", tinyModel, "--format", "table"], "");
        expect(format.code).toBe(2);
        expect(format.stderr).toMatch(/^nemoreward: error: unknown option '--format'/);
        const csv = join(tmp, "dpo.csv");
        const toCsv = await runInProcess(["pairs", "-", "-m", tinyModel, "-o", csv], "");
        expect(toCsv.code).toBe(2);
        expect(toCsv.stderr).toMatch(/pairs writes JSONL/);
        expect(existsSync(csv)).toBe(false);
        const named = await runInProcess(["pairs", "-", "-m", tinyModel, "--field", "score"],
            jsonl([{ prompt: "2+2?", chosen: "4", rejected: "Five, I think." }, { prompt: "2+2?", chosen: "Five, I think.", rejected: "4" }]));
        const [pair] = parseJsonl(named.stdout);
        expect(Object.keys(pair!)).toEqual(["prompt", "chosen", "rejected", "score_chosen", "score_rejected", "margin"]);
    });

    it("eval: a report, so no --format; -o FILE.json writes JSON, -o FILE.csv is refused before anything runs", async () => {
        const options = await offered("eval");
        expect(options).not.toContain("--format");
        const input = jsonl([{ prompt: "2+2?", chosen: "4", rejected: "5" }]);
        const csv = join(tmp, "ev.csv");
        const toCsv = await runInProcess(["eval", "-", "-m", tinyModel, "-o", csv], input);
        expect(toCsv.code).toBe(2);
        expect(toCsv.stdout).toBe("");
        expect(stderrLines(toCsv.stderr)).toEqual([expect.stringMatching(/^nemoreward: error: eval writes a report.*\.json/)]);
        expect(existsSync(csv)).toBe(false);
        const json = join(tmp, "ev.json");
        const toJson = await runInProcess(["eval", "-", "-m", tinyModel, "-o", json], input);
        expect(toJson.code).toBe(0);
        expect(toJson.stdout).toBe("");
        expect(JSON.parse(readFileSync(json, "utf8"))).toMatchObject({ rows: 1 });
    });

    it("eval --on-overlong skip: a skipped pair is left out of the report, not counted with a margin of 0", async () => {
        const long = "word ".repeat(120);
        const input = jsonl([{ prompt: "2+2?", chosen: "4", rejected: "Five, I think." }, { prompt: long, chosen: "4", rejected: "5" }]);
        const { code, stdout, stderr } = await runInProcess(["eval", "-", "-m", tinyModel, "--precise", "--json", "--context-size", "150", "--on-overlong", "skip"], input);
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        expect(report).toMatchObject({ rows: 1, errors: 0 });
        expect(report.mean_margin).toBeCloseTo(rewardOf("2+2?", "4") - rewardOf("2+2?", "Five, I think."), 4);
        expect(stderr).toMatch(/<stdin>:2: skipped: the conversation is at least \d+ tokens/);
    });

    it("info --gpu-layers max estimates all layers, as the README recommends max for score", async () => {
        const all = await runInProcess(["info", tinyModel, "--json"]);
        const max = await runInProcess(["info", tinyModel, "--json", "--gpu-layers", "max"]);
        expect(max.code).toBe(0);
        expect(max.stderr).toBe("");
        expect(JSON.parse(max.stdout).estimate).toEqual(JSON.parse(all.stdout).estimate);
        expect(JSON.parse(max.stdout).estimate.gpuLayers).toBe(JSON.parse(max.stdout).layers);
        expect((await runInProcess(["info", "--help"])).stdout).toMatch(/--gpu-layers <n\|max>/);
    });

    it("--max-errors says its default; every option score, eval and pairs offer is in the README", async () => {
        const help = (await runInProcess(["score", "--help"])).stdout.replace(/\s+/g, " ");
        expect(help).toMatch(/--max-errors <n> [^(]*\(default: no limit\)/);
        const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
        for (const command of ["score", "eval", "pairs", "render"])
            for (const name of await offered(command))
                if (name !== "--help") expect(readme, `${command} ${name}`).toMatch(new RegExp(`${name}(?![\\w-])`));
    });
});

function oneRow() {
    return [{ prompt: "Say hi.", response: "Hi!" }];
}

describe("records and messages", () => {
    it("Alpaca rows: instruction (+ input) is the user turn, output the assistant turn", async () => {
        const alpaca = [
            { instruction: "Translate to French.", input: "Good morning", output: "Bonjour" },
            { instruction: "Say hi.", output: "Hi!" },
            { instruction: "Say hi.", input: "", output: "Hi!" },
        ];
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], jsonl(alpaca));
        expect(code).toBe(0);
        expect(stderr).not.toMatch(/warning/);
        const out = parseJsonl(stdout);
        expect(Math.abs(out[0]!.reward - rewardOf("Translate to French.\n\nGood morning", "Bonjour"))).toBeLessThan(1e-4);
        expect(Math.abs(out[1]!.reward - rewardOf("Say hi.", "Hi!"))).toBeLessThan(1e-4);
        expect(out[2]!.reward).toBe(out[1]!.reward);
    });

    it("a row of another shape: the error suggests --prompt-field/--response-field with the row's own field names", async () => {
        const { code, stdout, stderr } = await runInProcess(["score", "-", "-m", tinyModel], jsonl([{ id: 7, question: "2+2?", answer: "4" }]));
        expect(code).toBe(3);
        const [row] = parseJsonl(stdout);
        expect(row!.error).toMatch(/no conversation.*--prompt-field question --response-field answer/);
        expect(stderr).toContain("<stdin>:1: no conversation");
        expect(stderr).toContain("--prompt-field question --response-field answer");
        const withFields = await runInProcess(["score", "-", "-m", tinyModel, "--precise", "--prompt-field", "question", "--response-field", "answer"],
            jsonl([{ id: 7, question: "2+2?", answer: "4" }]));
        expect(withFields.code).toBe(0);
        expect(Math.abs(parseJsonl(withFields.stdout)[0]!.reward - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
    });
});

describe("messages for people", () => {
    it("Commander's own errors carry the nemoreward: prefix like every other error", async () => {
        for (const args of [["score", "--bogus"], ["score", "--threads", "zero"], ["frobnicate"], ["info", "--context-size"]]) {
            const { code, stdout, stderr } = await runInProcess(args);
            expect(code, args.join(" ")).toBe(2);
            expect(stdout).toBe("");
            expect(stderr, args.join(" ")).toMatch(/^nemoreward: error: /);
        }
    });

    it("the table lines up CJK text by its display width", async () => {
        const input = jsonl([
            { prompt: "日本の首都はどこですか？東京と大阪と京都のうち、どれが首都か教えてください。", response: "東京です。日本の首都は東京で、政治と経済の中心です。" },
            { prompt: "What is the capital of Japan? Tell me which of Tokyo, Osaka and Kyoto.", response: "Tokyo is the capital." },
            { prompt: "首都？", response: "東京" },
        ]);
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--format", "table"], input);
        expect(code).toBe(0);
        // East Asian wide characters take two columns; everything else here one
        const width = (s: string) => [...s].reduce((n, c) => n + (c.codePointAt(0)! >= 0x2e80 ? 2 : 1), 0);
        const lines = stdout.split("\n").filter((l) => l !== "").slice(1);
        expect(lines).toHaveLength(3);
        const arrows = lines.map((l) => width(l.slice(0, l.indexOf(" → "))));
        expect(new Set(arrows).size).toBe(1);
        for (const line of lines) expect(width(line)).toBeLessThanOrEqual(100);
        expect(new Set(lines.map(width)).size).toBe(1);
    });
});
