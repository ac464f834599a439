import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel, type ReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { duck } from "../duckdb.js";
import { parseJsonl, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-filters-"));
const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let reference: ReferenceModel;
const rewardOf = (prompt: string, response: string) =>
    reference.logits(reference.tokenize(template.render([{ role: "user", content: prompt }, { role: "assistant", content: response }])), [0])[0]!;
const score = (args: string[]) => runInProcess(["score", ...args, "-m", tinyModel, "--precise"]);
const write = (name: string, records: object[]) => {
    const path = join(tmp, name);
    writeFileSync(path, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    return path;
};
/** A threshold halfway across the widest gap between sorted rewards, so that the engine's last digits cannot move a row across it. */
const widestGap = (rewards: number[]) => {
    const sorted = [...rewards].sort((a, b) => a - b);
    let best = 0;
    for (let i = 1; i < sorted.length - 1; i++) if (sorted[i + 1]! - sorted[i]! > sorted[best + 1]! - sorted[best]!) best = i;
    return (sorted[best]! + sorted[best + 1]!) / 2;
};

const rows = [
    { prompt: "Capital of France?", response: "Paris." },
    { prompt: "Capital of France?", response: "Lyon" },
    { prompt: "Capital of France?", response: "It is Paris, the capital." },
    { prompt: "Say hi.", response: "Hi!" },
    { prompt: "Say hi.", messages: "not a list" },
    { prompt: "Say hi.", response: "Hello there, friend." },
    { prompt: "2+2?", response: "4" },
];
let input: string;
let expected: (number | undefined)[];

beforeAll(async () => {
    reference = await loadReferenceModel(tinyModel);
    input = write("rows.jsonl", rows);
    expected = rows.map((r) => (r.response === undefined ? undefined : rewardOf(r.prompt, r.response)));
});

describe("cleaning filters", () => {
    it("--min-reward / --max-reward keep the rows inside the bounds; every other row goes to --rejects with why", async () => {
        const scored = expected.filter((r): r is number => r !== undefined);
        const min = widestGap(scored);
        const rejects = join(tmp, "bounds-rejects.jsonl");
        const { code, stdout, stderr } = await score([input, "--min-reward", String(min), "--rejects", rejects]);
        expect(code).toBe(3); // the error row is still a row not scored
        const keptLines = rows.flatMap((r, i) => (expected[i] !== undefined && expected[i]! >= min ? [i] : []));
        expect(parseJsonl(stdout).map((r) => r.response)).toEqual(keptLines.map((i) => rows[i]!.response));
        const dropped = parseJsonl(readFileSync(rejects, "utf8"));
        expect(dropped.map((r) => [r.response ?? r.messages, r.dropped])).toEqual(rows.flatMap((r, i) =>
            keptLines.includes(i) ? [] : [[r.response ?? r.messages, expected[i] === undefined ? "error" : `reward below --min-reward ${min}`]]));
        expect(stderr).toMatch(new RegExp(`kept ${keptLines.length} rows, dropped ${rows.length - keptLines.length} \\(1 without a reward\\) to ${rejects}`));

        const max = widestGap(scored);
        const below = await score([input, "--max-reward", String(max)]);
        expect(parseJsonl(below.stdout).map((r) => r.response)).toEqual(rows.flatMap((r, i) => (expected[i] !== undefined && expected[i]! <= max ? [r.response] : [])));
        expect(below.stderr).toMatch(/: --rejects FILE keeps them/);
    });

    it("--top-k keeps the K best of each run of rows sharing a prompt (error rows apart), in input order", async () => {
        const rejects = join(tmp, "top-rejects.jsonl");
        const { stdout } = await score([input, "--top-k", "1", "--rejects", rejects]);
        // groups are runs of rows sharing a prompt; the error row shows no prompt and stays in the run it is in
        const runs = [[0, 1, 2], [3, 5], [6]];
        const kept = runs.map((run) => run.reduce((a, b) => (expected[b]! > expected[a]! ? b : a)));
        expect(parseJsonl(stdout).map((r) => r.response)).toEqual(kept.map((i) => rows[i]!.response));
        const dropped = parseJsonl(readFileSync(rejects, "utf8"));
        expect(dropped.map((r) => r.dropped)).toEqual(rows.flatMap((_, i) => (kept.includes(i) ? [] : [expected[i] === undefined ? "error" : "not in the top 1 of its group"])));

        // --group-by a field instead of the prompt: one group over every row, the error row included
        const grouped = await score([write("grouped.jsonl", rows.map((r) => ({ batch: 1, ...r }))), "--top-k", "2", "--group-by", "batch"]);
        const top2 = expected.flatMap((r, i) => (r === undefined ? [] : [i])).sort((a, b) => expected[b]! - expected[a]!).slice(0, 2).sort((a, b) => a - b);
        expect(parseJsonl(grouped.stdout).map((r) => r.response)).toEqual(top2.map((i) => rows[i]!.response));
    });

    it("best-of-N in Parquet: --top-k splits a row's responses into a kept row and a rejected row, both Parquet", async () => {
        const responses = ["Paris.", "Lyon", "It is Paris, the capital.", "I cannot say."];
        const others = ["4", "5"];
        await duck(`COPY (SELECT * FROM (VALUES (1, 'Capital of France?', ${JSON.stringify(responses).replace(/"/g, "'")}),
            (2, '2+2?', ${JSON.stringify(others).replace(/"/g, "'")})) t(id, prompt, responses)) TO '${join(tmp, "bon.parquet")}' (FORMAT parquet)`);
        const kept = join(tmp, "bon-kept.parquet"), rejects = join(tmp, "bon-rejects.parquet");
        // above both of row 2's rewards: row 2 goes to the rejects whole
        const min = Math.max(...others.map((r) => rewardOf("2+2?", r))) + 1e-3;
        const { code } = await score([join(tmp, "bon.parquet"), "--top-k", "2", "--min-reward", String(min), "-o", kept, "--rejects", rejects]);
        expect(code).toBe(0);
        const rewards = responses.map((r) => rewardOf("Capital of France?", r));
        const top = rewards.map((r, i) => [r, i] as const).sort((a, b) => b[0] - a[0]).slice(0, 2).map(([, i]) => i).sort((a, b) => a - b);
        const keptResponses = top.filter((i) => rewards[i]! >= min).map((i) => responses[i]!);
        expect(keptResponses).toHaveLength(2); // the data make both kinds of drop happen: the check is of something
        const keptRows = await duck(`SELECT id, responses, rewards, best FROM '${kept}'`);
        expect(keptRows.map((r) => [r.id, r.responses])).toEqual([[1, keptResponses]]);
        keptResponses.forEach((response, j) => expect(keptRows[0]!.rewards[j]).toBeCloseTo(rewardOf("Capital of France?", response), 5));
        const rejected = await duck(`SELECT id, responses, dropped FROM '${rejects}'`);
        expect(rejected.map((r) => [r.id, r.responses])).toEqual([[1, responses.filter((r) => !keptResponses.includes(r))], [2, others]]);
        expect(rejected[0]!.dropped).toMatch(/not in the top 2 of its group/);
        expect(rejected.at(-1)!.dropped).toBe(`reward below --min-reward ${min}`);
    });

    it("best-of-N in CSV: the kept row's responses cell holds only the kept responses", async () => {
        const csv = join(tmp, "bon.csv");
        const responses = ["Hi!", "Hello there, friend.", "Yo"];
        writeFileSync(csv, `id,prompt,responses\n7,Say hi.,"${JSON.stringify(responses).replace(/"/g, '""')}"\n`);
        const rejects = join(tmp, "bon-rejects.csv");
        const { stdout } = await score([csv, "--top-k", "1", "--rejects", rejects]);
        const rewards = responses.map((r) => rewardOf("Say hi.", r));
        const best = rewards.indexOf(Math.max(...rewards));
        const [header, row] = parse(stdout) as string[][];
        expect(header).toEqual(["id", "prompt", "responses", "rewards", "best", "response_indexes", "special_tokens_in_content", "error"]);
        expect(row!.slice(0, 3)).toEqual(["7", "Say hi.", JSON.stringify([responses[best]])]);
        expect(row![4]).toBe("0");
        expect(row![5]).toBe(`[${best}]`);
        const [rejectHeader, rejectRow] = parse(readFileSync(rejects, "utf8")) as string[][];
        expect(rejectHeader!.at(-1)).toBe("dropped");
        expect(JSON.parse(rejectRow![2]!)).toEqual(responses.filter((_, i) => i !== best));
    });

    it("a preference pair is kept when both its rewards are inside the bounds", async () => {
        const pairs = [{ prompt: "Say hi.", chosen: "Hi!", rejected: "Yo" }, { prompt: "2+2?", chosen: "4", rejected: "5" }];
        const all = pairs.flatMap((p) => [rewardOf(p.prompt, p.chosen), rewardOf(p.prompt, p.rejected)]);
        const min = widestGap(all);
        const { stdout } = await score([write("pairs.jsonl", pairs), "--min-reward", String(min)]);
        expect(parseJsonl(stdout).map((r) => r.prompt)).toEqual(pairs.filter((_, i) => all[2 * i]! >= min && all[2 * i + 1]! >= min).map((p) => p.prompt));
    });

    it("is a usage error to give --rejects without a filter, or a filter with --resume", async () => {
        expect((await score([input, "--rejects", join(tmp, "x.jsonl")])).stderr).toMatch(/--rejects goes with --min-reward, --max-reward or --top-k/);
        const resumed = await score([input, "--top-k", "1", "-o", join(tmp, "y.jsonl"), "--resume"]);
        expect(resumed.code).toBe(2);
        expect(resumed.stderr).toMatch(/cannot be combined with --resume/);
    });
});
