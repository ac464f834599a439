import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { demoConversations, parseJsonl, readFile as readRowsOf, repoRoot, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-safety-"));

describe("merge", () => {
    it("carries a shard row over 64 MiB whole", async () => {
        // written piece by piece, and compared by digest, so that the test never holds the row itself
        const piece = Buffer.alloc(1 << 20, "a");
        const pieces = 65;
        const expected = createHash("sha256");
        const part0 = join(tmp, "big-0.jsonl"), part1 = join(tmp, "big-1.jsonl");
        const fd = openSync(part0, "w");
        const write = (text: string | Buffer) => {
            writeSync(fd, text);
            expected.update(text);
        };
        write('{"id":0,"x":"');
        for (let i = 0; i < pieces; i++) write(piece);
        write('","reward":1}\n');
        const second = '{"id":1,"reward":2}\n', third = '{"id":2,"reward":3}\n';
        expected.update(second).update(third);
        writeSync(fd, third);
        closeSync(fd);
        writeFileSync(part1, second);
        const merged = join(tmp, "big.jsonl");
        const run = await runBuiltCli(["merge", merged, part0, part1]);
        expect(run.stderr).not.toMatch(/error/);
        expect(run.code).toBe(0);
        expect(statSync(merged).size).toBe(statSync(part0).size + statSync(part1).size);
        expect(createHash("sha256").update(readFileSync(merged)).digest("hex")).toBe(expected.digest("hex"));
    });

    it("skips the record files that `part-*` matches beside the shards", async () => {
        const dir = mkdtempSync(join(tmp, "glob-"));
        const parts = [0, 1].map((k) => join(dir, `part-${k}.jsonl`));
        for (const [k, part] of parts.entries())
            expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        const straight = await runInProcess(["score", demoConversations, "-m", tinyModel]);
        // what the shell gives for part-*, sorted
        const glob = parts.flatMap((part) => [part, `${part}.resume`, `${part}.shard`]).filter((path) => existsSync(path)).sort();
        expect(glob.some((path) => path.endsWith(".shard"))).toBe(true);
        const merged = join(tmp, "globbed.jsonl");
        const run = await runInProcess(["merge", merged, ...glob]);
        expect(run.stderr).toMatch(/^nemoreward: merged 5 rows from 2 shards/);
        expect(run.code).toBe(0);
        expect(readFileSync(merged, "utf8")).toBe(straight.stdout);
    });
});

describe("-o is checked before anything is loaded", () => {
    it("refuses the model file and the chat template file, leaving them as they were", async () => {
        const model = join(tmp, "model-copy.gguf");
        writeFileSync(model, readFileSync(tinyModel));
        const template = join(tmp, "template.jinja");
        writeFileSync(template, "{{ messages[0].content }}");
        for (const [output, what] of [[model, "the model"], [template, "the chat template"]] as const) {
            for (const command of [["score", "--format", "jsonl"], ["pairs"]]) {
                const run = await runInProcess([...command, demoConversations, "-m", model, "--chat-template", template, "-o", output]);
                expect(run.code).toBe(2);
                expect(run.stderr).toBe(`nemoreward: error: ${output} is also ${what} (${output}): writing it would destroy ${what}\n`);
            }
        }
        expect(readFileSync(model)).toEqual(readFileSync(tinyModel));
        expect(readFileSync(template, "utf8")).toBe("{{ messages[0].content }}");
    });

    it("-o into a missing folder is a usage error before the model loads", async () => {
        // a model file that is no model: loading it first would fail with exit 1
        const notAModel = join(tmp, "not-a-model.gguf");
        writeFileSync(notAModel, "not a model");
        const output = join(tmp, "no-such-folder", "out.jsonl");
        const run = await runInProcess(["score", demoConversations, "-m", notAModel, "-o", output]);
        expect(run.stderr).toBe(`nemoreward: error: cannot write ${output}: there is no folder ${join(tmp, "no-such-folder")}\n`);
        expect(run.code).toBe(2);
    });
});

describe("groups of rows sharing a prompt", () => {
    // five rows of one prompt; the third cannot be read
    const rows = [
        JSON.stringify({ prompt: "Name a colour.", response: "Red." }),
        JSON.stringify({ prompt: "Name a colour.", response: "Blue, the colour of the sky." }),
        '{"prompt": "Name a colour.", "response": ',
        JSON.stringify({ prompt: "Name a colour.", response: "Green" }),
        JSON.stringify({ prompt: "Name a colour.", response: "I would rather not." }),
    ].join("\n") + "\n";

    it("--rank: an unreadable row in the middle does not split the group", async () => {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows);
        expect(code).toBe(3);
        const out = parseJsonl(stdout);
        expect(out).toHaveLength(5);
        expect(out[2]).toMatchObject({ rank: null, z: null, error: expect.stringMatching(/not valid JSON/) });
        const scored = out.filter((row) => typeof row.reward === "number");
        expect(scored.map((row) => row.rank).sort()).toEqual([1, 2, 3, 4]);
        const best = scored.reduce((a, b) => (b.reward > a.reward ? b : a));
        expect(best.rank).toBe(1);
    });

    it("pairs: an unreadable row in the middle does not split the group", async () => {
        const { stdout } = await runInProcess(["pairs", "-", "-m", tinyModel], rows);
        const pairs = parseJsonl(stdout);
        expect(pairs).toHaveLength(1);
        const ranked = parseJsonl((await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows)).stdout);
        expect(pairs[0]!.chosen).toBe(ranked.find((row) => row.rank === 1)!.response);
        expect(pairs[0]!.rejected).toBe(ranked.find((row) => row.rank === 4)!.response);
    });
});

describe("eval on response_1 + response_2 rows", () => {
    it("a missing or non-numeric preference_strength is a row error with its reason (exit 3); strength 0 is scored, not counted", async () => {
        const pair = { prompt: "What is 1+1?", response_1: "1+1=2", response_2: "1+1=3" };
        const rows = [{ ...pair }, { ...pair, preference_strength: 0 }, { ...pair, preference_strength: "abc" }, { ...pair, preference_strength: -2 }];
        const perRow = join(tmp, "eval-rows.jsonl");
        const { code, stdout, stderr } = await runInProcess(["eval", "-", "-m", tinyModel, "--json", "--per-row", perRow],
            rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(code).toBe(3);
        expect(stderr).toMatch(/<stdin>:1: "preference_strength" is missing/);
        expect(stderr).toMatch(/<stdin>:3: "preference_strength" is not a number \("abc"\)/);
        expect(stderr).not.toMatch(/<stdin>:[24]:/);
        expect(JSON.parse(stdout)).toMatchObject({ rows: 1, errors: 2, no_preference: 1 });
        const written = parseJsonl(readFileSync(perRow, "utf8"));
        expect(written.map((row) => row.error ?? null)).toEqual([expect.stringMatching(/missing/), null, expect.stringMatching(/not a number/), null]);
        expect(typeof written[1]!.reward_1).toBe("number");
        const table = await runInProcess(["eval", "-", "-m", tinyModel], rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(table.stdout).toMatch(/^pairs {7}1 \(2 could not be scored\) \(1 with preference_strength 0, no preferred response: not counted\)$/m);
    });
});

describe("gzip with bytes after the stream", () => {
    it("zero padding: every row, exit 0; garbage: every row, then a warning, exit 0", async () => {
        const demo = readFileSync(demoConversations);
        const expected = parseJsonl((await runInProcess(["score", demoConversations, "-m", tinyModel])).stdout);
        for (const [tail, warning] of [[Buffer.alloc(4096), undefined], [Buffer.from("\x00junk"), /trailing garbage after the gzip data ignored/]] as const) {
            const path = join(tmp, `padded-${tail.length}.jsonl.gz`);
            writeFileSync(path, Buffer.concat([gzipSync(demo), tail]));
            const { code, stdout, stderr } = await runInProcess(["score", path, "-m", tinyModel]);
            expect(parseJsonl(stdout)).toEqual(expected);
            expect(code).toBe(0);
            if (warning === undefined) expect(stderr).not.toMatch(/warning|error/);
            else expect(stderr).toMatch(warning);
        }
    });
});

describe("what nemoreward writes, it reads back to the same rows", () => {
    const records = [
        { id: "1", note: "a\ttab", prompt: "a line\nbreak", response: 'a "quote", a comma' },
        { id: "2", note: '"starts with a quote', prompt: "CRLF\r\ninside", response: "ünïcødé 😀 中文" },
        { id: "3", note: "ends with a tab\t", prompt: "lone \r return", response: '""' },
        { id: "4", note: "", prompt: "plain", response: "\"quoted\"" },
    ];
    const input = join(tmp, "awkward.jsonl");
    writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
    const readBack = async (path: string) => {
        const rows: Record<string, unknown>[] = [];
        for (const row of await readRowsOf(path)) {
            expect(row.problem).toBeUndefined();
            rows.push(row.record!);
        }
        return rows;
    };
    const userColumns = (rows: Record<string, unknown>[]) => rows.map(({ id, note, prompt, response }) => ({ id, note, prompt, response }));

    it.each(["csv", "tsv"])("%s: scored, read back, scored again, merged from shards", async (format) => {
        const once = join(tmp, `awkward-once.${format}`), twice = join(tmp, `awkward-twice.${format}`);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", once])).code).toBe(0);
        const first = await readBack(once);
        expect(userColumns(first)).toEqual(records);
        expect(first.every((row) => row["reward"] !== "" && row["error"] === "")).toBe(true);
        const again = await runInProcess(["score", once, "-m", tinyModel, "-o", twice]);
        expect(again.stderr).not.toMatch(/warning/);
        expect(again.code).toBe(0);
        expect(userColumns(await readBack(twice))).toEqual(records);
        const parts = [0, 1].map((k) => join(tmp, `awkward-part-${k}.${format}`));
        for (const [k, part] of parts.entries())
            expect((await runInProcess(["score", input, "-m", tinyModel, "--shard", `${k}/2`, "-o", part])).code).toBe(0);
        const merged = join(tmp, `awkward-merged.${format}`);
        const merge = await runInProcess(["merge", merged, ...parts]);
        expect(merge.stderr).not.toMatch(/error/);
        expect(readFileSync(merged, "utf8")).toBe(readFileSync(once, "utf8"));
    });
});

describe("-o FILE: resumable, one run at a time", () => {
    const input = join(tmp, "long.jsonl");
    writeFileSync(input, Array.from({ length: 500 }, (_, i) =>
        JSON.stringify({ id: i, prompt: `Question ${i % 7}: what is ${i} squared?`, response: `It is ${i * i}, I think.`.repeat(1 + (i % 3)) })).join("\n") + "\n");
    let expected: string | undefined;
    const uninterrupted = async () => (expected ??= (await runBuiltCli(["score", input, "-m", tinyModel, "-q"])).stdout);
    const start = (args: string[]) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        const exit = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
            child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
        return { child, exit };
    };
    /** Resolves once `check` holds, looking every few milliseconds. */
    const until = (check: () => boolean) => new Promise<void>((resolve) => {
        const timer = setInterval(() => {
            if (!check()) return;
            clearInterval(timer);
            resolve();
        }, 5);
    });

    it("a plain -o run killed with SIGKILL resumes with --resume to the bytes of an uninterrupted run", async () => {
        const out = join(tmp, "killed.jsonl");
        const run = start(["score", input, "-m", tinyModel, "-q", "-o", out]);
        await until(() => existsSync(out) && statSync(out).size >= 20_000);
        run.child.kill("SIGKILL");
        expect((await run.exit).signal).toBe("SIGKILL");
        expect(statSync(out).size).toBeLessThan((await uninterrupted()).length);
        // the killed run's lock is left behind; its pid is gone, so it is taken over
        expect(existsSync(`${out}.lock`)).toBe(true);
        const resumed = await runBuiltCli(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(resumed.stderr).toMatch(/resuming after the \d+ rows already in/);
        expect(resumed.code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
        expect(existsSync(`${out}.lock`)).toBe(false);
        // a complete file resumed: checked against the input, nothing added
        const again = await runBuiltCli(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(again.code).toBe(0);
        expect(again.stderr).toMatch(/resuming after the 500 rows already in/);
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
    });

    it("a second run on the same -o FILE gets one line and exit 2 while the first goes on undisturbed", async () => {
        const out = join(tmp, "locked.jsonl");
        // the first run reads a pipe the test holds open, so that it is surely still running when the others start
        const first = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-", "-m", tinyModel, "-q", "-o", out, "--resume"],
            { stdio: ["pipe", "ignore", "pipe"] });
        let firstErr = "";
        first.stderr!.on("data", (c) => (firstErr += c));
        const firstExit = new Promise<number | null>((resolve) => first.on("exit", resolve));
        const lines = readFileSync(input, "utf8").split(/(?<=\n)/);
        first.stdin!.write(lines.slice(0, 10).join(""));
        await until(() => existsSync(out) && statSync(out).size > 0);
        for (const args of [["-", "--resume"], [input], [input, "--resume"]]) {
            const run = await runBuiltCli(["score", ...args, "-m", tinyModel, "-q", "-o", out], "");
            expect(run.stderr).toMatch(new RegExp(`^nemoreward: error: ${out} is being written by another run \\(pid \\d+ on [^)]+\\): ` +
                `wait for it to finish, or remove ${out}.lock if no such run is going on\n$`));
            expect(run.code).toBe(2);
        }
        first.stdin!.end(lines.slice(10).join(""));
        expect(await firstExit).toBe(0);
        expect(firstErr).toBe("");
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
        expect(readFileSync(`${out}.resume`, "utf8").trim().split("\n")).toHaveLength(501);
        expect(existsSync(`${out}.lock`)).toBe(false);
    });
});

describe("an input of no rows", () => {
    it("a header-only CSV or TSV gives its header plus the tool's columns, and says 0 rows", async () => {
        for (const [name, text, header] of [["empty.csv", "prompt,response\r\n", "prompt,response,reward,error\r\n"],
            ["empty.tsv", "prompt\tnote\tresponse\n", "prompt\tnote\tresponse\treward\terror\n"],
            ["own-error.csv", "prompt,response,error\n", "prompt,response,error,reward,nemoreward_error\n"]]) {
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
        expect(csv.stdout).toBe("reward,error\n");
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
        expect(readFileSync(once, "utf8").split("\n")[0]).toBe("prompt,response,error,reward,nemoreward_error");
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
        expect(readFileSync(twice, "utf8").split("\n")[0]).toBe("prompt,response,error,reward,nemoreward_error");
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
