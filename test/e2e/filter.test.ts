import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { join } from "node:path";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { columnTypes, duck } from "../duckdb.js";
import { cli, duckParquet, jsonl, newDir, parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

// `nemoreward filter` keeps rows by the rewards they already hold: what `score --min-reward ...` keeps, without a model.

const tmp = newDir("filter");
const write = (name: string, text: string) => {
    const path = join(tmp, name);
    writeFileSync(path, text);
    return path;
};
const rows = [
    { id: 1, prompt: "Capital of France?", response: "Paris." },
    { id: 2, prompt: "Capital of France?", response: "Lyon" },
    { id: 3, prompt: "Capital of France?", response: "It is Paris, the capital." },
    { id: 4, prompt: "Say hi.", messages: "not a list" },
    { id: 5, prompt: "Say hi.", response: "Hi!" },
    { id: 6, prompt: "Say hi.", response: "Hello there, friend." },
    { id: 7, prompt: "Colours?", responses: ["Blue.", "Red", "I like turtles", "Green is a colour."] },
];
// a model-free run: no model named anywhere, none to find
const noModel = { NEMOREWARD_MODEL: "/nonexistent/model.gguf", NEMOREWARD_HOME: join(tmp, "empty-home") };

describe("nemoreward filter: the filters of score over the rewards the rows hold, no model", () => {
    it("keeps and rejects exactly what score's filters do (--min-reward, --top-k, --group-by), byte for byte, error rows to --rejects with exit 3", async () => {
        const input = write("rows.jsonl", jsonl(rows));
        const scored = join(tmp, "scored.jsonl");
        expect((await runInProcess(["score", input, "-m", tinyModel, "--precise", "-o", scored, "-q"])).code).toBe(exitCodes.someRowsFailed);
        const rewards = parseJsonl(readFileSync(scored, "utf8")).flatMap((r) => (typeof r.reward === "number" ? [r.reward as number] : r.rewards ?? []));
        const median = [...rewards].sort((a, b) => a - b)[Math.floor(rewards.length / 2)]!;
        for (const filters of [["--min-reward", String(median)], ["--max-reward", String(median)], ["--top-k", "1"], ["--top-k", "2", "--group-by", "prompt"], ["--rank"]]) {
            const [fromScore, fromFilter] = [join(tmp, "score-rejects.jsonl"), join(tmp, "filter-rejects.jsonl")];
            const rejects = (path: string) => (filters[0] === "--rank" ? [] : ["--rejects", path]);
            const scoring = await runInProcess(["score", input, "-m", tinyModel, "--precise", ...filters, ...rejects(fromScore)]);
            const filtering = await runBuiltCli(["filter", scored, ...filters, ...rejects(fromFilter)], undefined, noModel);
            expect(filtering.code, filtering.stderr).toBe(exitCodes.someRowsFailed); // the error row holds no reward
            // --rank adds its fields after the row's own: an error row's `error` comes before them, not after
            if (filters[0] === "--rank") expect(parseJsonl(filtering.stdout)).toEqual(parseJsonl(scoring.stdout));
            else expect(filtering.stdout, filters.join(" ")).toBe(scoring.stdout);
            if (filters[0] !== "--rank") expect(readFileSync(fromFilter, "utf8"), filters.join(" ")).toBe(readFileSync(fromScore, "utf8"));
            expect(filtering.stderr).not.toMatch(/tokens|model/);
            expect(filtering.stderr).toMatch(/read \d+ of 7 rows \(1 not\)/);
        }
    });

    it("a row without a reward is never kept nor dropped silently: it goes to --rejects saying why, is counted, and the exit status is 3", async () => {
        const input = write("mixed.jsonl", [
            '{"id": 1, "reward": 0.5}',
            '{"id": 2}',
            '{"id": 3, "reward": "high"}',
            '{"id": 4, "reward": null, "error": "the conversation is too long"}',
            '{"id": 5, "reward": -3}',
            "not json",
        ].join("\n") + "\n");
        const rejects = join(tmp, "mixed-rejects.jsonl");
        const { code, stdout, stderr } = await runBuiltCli(["filter", input, "--min-reward", "0", "--rejects", rejects], undefined, noModel);
        expect(code).toBe(exitCodes.someRowsFailed);
        expect(stdout).toBe('{"id": 1, "reward": 0.5}\n');
        expect(parseJsonl(readFileSync(rejects, "utf8")).map((r) => [r.id ?? r.line, r.dropped])).toEqual([
            [2, 'no "reward" field'], [3, '"reward" is not a number'], [4, "error"], [5, "reward below --min-reward 0"], [6, expect.stringMatching(/not valid JSON/)],
        ]);
        expect(stderr).toMatch(/kept 1 row, dropped 5 \(4 without a reward\) to /);
        // without --rejects, the count says where they would go
        const bare = await runBuiltCli(["filter", input, "--min-reward", "0"], undefined, noModel);
        expect(bare.stderr).toMatch(/dropped 5 \(4 without a reward\): --rejects FILE keeps them/);
    });

    it("a JSONL error row (whose `error` the first row has not) keeps its error in CSV rejects", async () => {
        const input = write("errors.jsonl", '{"id": 1, "reward": -0.5}\n{"id": 2, "reward": null, "error": "boom"}\n');
        const rejects = join(tmp, "errors-rejects.csv");
        const { code, stdout } = await runBuiltCli(["filter", input, "--min-reward", "0", "-o", join(tmp, "errors-kept.csv"), "--rejects", rejects], undefined, noModel);
        expect(code).toBe(exitCodes.someRowsFailed);
        expect(stdout).toBe("");
        expect(parse(readFileSync(rejects, "utf8"))).toEqual([["id", "reward", "error", "dropped"], ["1", "-0.5", "", "reward below --min-reward 0"], ["2", "", "boom", "error"]]);
    });

    it("--field names the reward column: a CSV's reward cells and every other cell pass through as their text", async () => {
        const input = write("helpsteer.csv", "prompt,response,helpfulness,score\nq1,a1,3,1.50\nq1,a2,4,-0.250\nq2,a3,2,1e1\n");
        const { code, stdout } = await runBuiltCli(["filter", input, "--field", "score", "--min-reward", "0"], undefined, noModel);
        expect(code).toBe(0);
        expect(parse(stdout)).toEqual([["prompt", "response", "helpfulness", "score", "error"], ["q1", "a1", "3", "1.50", ""], ["q2", "a3", "2", "1e1", ""]]);
        const missing = await runBuiltCli(["filter", input, "--min-reward", "0"], undefined, noModel);
        expect(missing.code).toBe(exitCodes.someRowsFailed);
        expect(missing.stderr).toMatch(/no "reward" field/);
    });

    it("reads what score reads: a folder of a JSON array, TSV and gzipped JSONL, in name order", async () => {
        const folder = join(tmp, "formats");
        mkdirSync(folder);
        writeFileSync(join(folder, "a.json"), JSON.stringify([{ id: "a1", reward: 1 }, { id: "a2", reward: -1 }], null, 2));
        writeFileSync(join(folder, "b.tsv"), "id\treward\nb1\t-0.5\nb2\t0.25\n");
        writeFileSync(join(folder, "c.jsonl.gz"), gzipSync('{"id":"c1","reward":3}\n{"id":"c2","reward":-3}\n'));
        const { code, stdout, stderr } = await runBuiltCli(["filter", folder, "--min-reward", "0"], undefined, noModel);
        expect(code, stderr).toBe(0);
        expect(parseJsonl(stdout).map((r) => r.id)).toEqual(["a1", "b2", "c1"]);
    });

    it("Parquet in and out: each column keeps its type and value (BIGINT past 2^53, DECIMAL, DATE, lists), read back with DuckDB", async () => {
        const input = await duckParquet(join(tmp, "scored.parquet"), `SELECT i AS id, 9007199254740993 + i AS big, (i * 1.125)::DECIMAL(18,3) AS price,
            DATE '2024-01-01' + i::INTEGER AS day, ['a', 'b'] AS tags, 'p' || (i // 2) AS prompt, 'r' || i AS response, (i - 2.5)::DOUBLE AS reward FROM range(6) t(i)`);
        const kept = join(tmp, "kept.parquet"), rejects = join(tmp, "dropped.parquet");
        const { code, stderr } = await runBuiltCli(["filter", input, "--min-reward", "0", "-o", kept, "--rejects", rejects], undefined, noModel);
        expect(code, stderr).toBe(0);
        const types = await columnTypes(input);
        expect(await columnTypes(kept)).toMatchObject(types);
        const columns = "id, big, price, day, tags, prompt, response, reward";
        expect(await duck(`SELECT ${columns} FROM '${kept}'`)).toEqual(await duck(`SELECT ${columns} FROM '${input}' WHERE reward >= 0`));
        expect(await duck(`SELECT ${columns}, dropped FROM '${rejects}'`)).toEqual(
            (await duck(`SELECT ${columns} FROM '${input}' WHERE reward < 0`)).map((r) => ({ ...r, dropped: "reward below --min-reward 0" })));
    });

    it("rows of ids and rewards only: --top-k groups by --group-by FIELD; by prompt, each row says it has none and how to group", async () => {
        const input = write("ids.jsonl", jsonl([{ batch: "a", id: 1, reward: 1 }, { batch: "a", id: 2, reward: 2 }, { batch: "b", id: 3, reward: 0 }]));
        const grouped = await runBuiltCli(["filter", input, "--top-k", "1", "--group-by", "batch"], undefined, noModel);
        expect(grouped.code).toBe(0);
        expect(parseJsonl(grouped.stdout).map((r) => r.id)).toEqual([2, 3]);
        const byPrompt = await runBuiltCli(["filter", input, "--top-k", "1"], undefined, noModel);
        expect(byPrompt.code).toBe(exitCodes.someRowsFailed);
        expect(byPrompt.stdout).toBe("");
        expect(byPrompt.stderr).toMatch(/no conversation: .* \(rows are grouped by prompt: --group-by FIELD groups them by a field\)/);
    });

    it("is a usage error without something to keep by; it takes no model options", async () => {
        const input = write("one.jsonl", '{"reward": 1}\n');
        const none = await runInProcess(["filter", input]);
        expect(none.code).toBe(exitCodes.usage);
        expect(none.stderr).toMatch(/filter needs --min-reward, --max-reward, --top-k or --rank/);
        const model = await runInProcess(["filter", input, "--min-reward", "0", "-m", tinyModel]);
        expect(model.code).toBe(exitCodes.usage);
        expect(model.stderr).toMatch(/unknown option '-m'/);
    });
});

describe("filter streams: flat memory", () => {
    it("filters 300,000 scored rows through a 48 MB heap: every row kept or rejected, in order", { timeout: 600_000 }, () => {
        const count = 300_000;
        const input = join(tmp, "many.jsonl");
        const fd = openSync(input, "w");
        const filler = "x".repeat(300);
        let chunk = "";
        for (let i = 0; i < count; i++) {
            chunk += `{"id":${i},"prompt":"p${i >> 2}","response":"${filler}","reward":${(i % 7) - 3}}\n`;
            if (chunk.length > 1 << 20) {
                writeSync(fd, chunk);
                chunk = "";
            }
        }
        writeSync(fd, chunk);
        closeSync(fd);
        const kept = join(tmp, "many-kept.jsonl"), rejects = join(tmp, "many-rejects.jsonl");
        const run = spawnSync(process.execPath, ["--max-old-space-size=48", cli, "filter", input, "--top-k", "2", "--min-reward", "-2", "-o", kept, "--rejects", rejects],
            { encoding: "utf8", env: { ...process.env, ...noModel } });
        expect(run.status, run.stderr.slice(-2000)).toBe(0);
        const ids = (path: string) => readFileSync(path, "utf8").split("\n").filter((l) => l !== "").map((l) => Number(/"id":(\d+)/.exec(l)![1]));
        const [keptIds, rejectedIds] = [ids(kept), ids(rejects)];
        expect(keptIds.length + rejectedIds.length).toBe(count);
        expect(keptIds.every((id, i) => i === 0 || id > keptIds[i - 1]!)).toBe(true);
        // each prompt's 4 rows: the 2 best of those at least -2 are kept
        const expected = Array.from({ length: count / 4 }, (_, p) => [0, 1, 2, 3].map((k) => 4 * p + k).filter((i) => (i % 7) - 3 >= -2)
            .sort((a, b) => ((b % 7) - (a % 7)) || a - b).slice(0, 2).sort((a, b) => a - b)).flat();
        expect(keptIds).toEqual(expected);
        expect(run.stderr).toMatch(new RegExp(`read ${count} of ${count} rows`));
    });
});

describe("filter groups (hostile report 4)", () => {
    it("#3: a row without the --group-by field is not judged: to --rejects with dropped \"no field FIELD\", counted, exit 3; the other rows group as they are", async () => {
        const input = write("typo.jsonl", jsonl([
            { prompt_id: 1, prompt: "P1", response: "a", reward: -1 },
            { prompt_id: 1, prompt: "P1", response: "b", reward: -2 },
            { prompt: "P1", response: "c", reward: 9 },
            { prompt_id: 2, prompt: "P2", response: "d", reward: 5 },
            { prompt_id: 2, prompt: "P2", response: "e", reward: -7 },
        ]));
        const rejects = join(tmp, "typo-rejects.jsonl");
        const some = await runInProcess(["filter", input, "--top-k", "1", "--group-by", "prompt_id", "--rejects", rejects]);
        expect(some.code).toBe(exitCodes.someRowsFailed);
        expect(parseJsonl(some.stdout).map((r) => r.response)).toEqual(["a", "d"]);
        expect(parseJsonl(readFileSync(rejects, "utf8")).map((r) => [r.response, r.dropped])).toEqual([
            ["b", "not in the top 1 of its group"], ["c", "no field prompt_id"], ["e", "not in the top 1 of its group"]]);
        expect(some.stderr).toMatch(/typo\.jsonl:3: no field "prompt_id"/);
        expect(some.stderr).toMatch(/1 without the --group-by field/);
        // a typo: no row has it, no row is judged, none silently kept as one group's best
        const typo = await runInProcess(["filter", input, "--top-k", "1", "--group-by", "promptid", "--rejects", rejects]);
        expect(typo.code).toBe(exitCodes.someRowsFailed);
        expect(typo.stdout).toBe("");
        expect(parseJsonl(readFileSync(rejects, "utf8")).map((r) => r.dropped)).toEqual(Array(5).fill("no field promptid"));
        expect(typo.stderr).toMatch(/5 without the --group-by field/);
    });

    it("#12: group keys are values: whitespace, escapes, 1 / 1.0 / 1e0 do not split a group; distinct big integers and \"1\" vs 1 do", async () => {
        const lines = [
            '{"pid":{"a":1, "b":2},"prompt":"a","response":"x","reward":1}',
            '{"pid":{"a":1,"b":2},"prompt":"a","response":"y","reward":2}',
            '{"pid":"\\u0041","prompt":"a","response":"x","reward":1}',
            '{"pid":"A","prompt":"a","response":"y","reward":2}',
            '{"pid":1,"prompt":"a","response":"x","reward":1}',
            '{"pid":1.0,"prompt":"a","response":"y","reward":3}',
            '{"pid":1e0,"prompt":"a","response":"z","reward":2}',
            '{"pid":"1","prompt":"a","response":"s","reward":0}',
            '{"pid":9007199254740993,"prompt":"a","response":"x","reward":1}',
            '{"pid":9007199254740992,"prompt":"a","response":"y","reward":2}',
        ];
        const { code, stdout } = await runInProcess(["filter", write("gk.jsonl", lines.join("\n") + "\n"), "--top-k", "1", "--group-by", "pid"]);
        expect(code).toBe(0);
        expect(stdout.split("\n").filter((l) => l !== "")).toEqual([lines[1], lines[3], lines[5], lines[7], lines[8], lines[9]]);
    });
});

describe("filter reads rewards strictly (hostile report 4, #19)", () => {
    it("in JSON a reward is a number: a string is not one, NaN/Infinity are not finite (not judged, exit 3); a CSV cell's text is parsed", async () => {
        const input = write("strict.jsonl", [
            '{"id":1,"prompt":"a","response":"x","reward":"-1"}',
            '{"id":2,"prompt":"a","response":"x","reward":1e999}',
            '{"id":3,"prompt":"a","response":"x","reward":-1e999}',
            '{"id":4,"prompt":"a","response":"x","reward":0.5}',
            '{"id":5,"prompt":"a","responses":["x","y"],"rewards":["1",2]}',
        ].join("\n") + "\n");
        const rejects = join(tmp, "strict-rejects.jsonl");
        const { code, stdout, stderr } = await runInProcess(["filter", input, "--min-reward", "-5", "--rejects", rejects]);
        expect(code).toBe(exitCodes.someRowsFailed);
        expect(parseJsonl(stdout).map((r) => r.id)).toEqual([4]);
        expect(readFileSync(rejects, "utf8").split("\n").filter((l) => l !== "").map((l) => [Number(/"id":(\d+)/.exec(l)![1]), JSON.parse(l).dropped])).toEqual([
            [1, '"reward" is not a number'], [2, '"reward" is not a finite number'], [3, '"reward" is not a finite number'], [5, '"rewards" is not a list of numbers']]);
        expect(stderr).not.toMatch(/Infinity|NaN/);
        const csv = write("strict.csv", "id,prompt,response,reward\n1,a,x,-1\n2,a,x,1.5\n");
        const fromCsv = await runInProcess(["filter", csv, "--min-reward", "0"]);
        expect(fromCsv.code).toBe(0);
        expect(fromCsv.stdout).toBe("id,prompt,response,reward,error\n2,a,x,1.5,\n");
    });

    it("pairs --scored: a reward_chosen string is not a number (an error row, exit 3)", async () => {
        const { code, stdout, stderr } = await runInProcess(["pairs", "-", "--scored"], jsonl([{ prompt: "P", chosen: "A", rejected: "B", reward_chosen: "2", reward_rejected: 1 }]));
        expect(code).toBe(3);
        expect(stdout).toBe("");
        expect(stderr).toMatch(/"reward_chosen" is not a number/);
    });

    it("--min-reward above --max-reward, and bounds that are not decimal numbers (0x10, Infinity), are usage errors", async () => {
        const input = write("bounds.jsonl", jsonl([{ prompt: "a", response: "x", reward: 1 }]));
        for (const args of [["--min-reward", "1", "--max-reward", "0"], ["--min-reward", "0x10"], ["--max-reward", "0b1"], ["--min-reward", "Infinity"]]) {
            const { code, stderr, stdout } = await runInProcess(["filter", input, ...args]);
            expect(code, args.join(" ")).toBe(exitCodes.usage);
            expect(stdout).toBe("");
            expect(stderr).toMatch(/error/);
        }
    });
});

describe("filter's rejects hold what could not be read (hostile report 4, #11)", () => {
    it("an unreadable line's reject keeps its text (bytes that are not UTF-8 as \\udcNN escapes): kept + rejects rebuild the input", async () => {
        const lines = [
            Buffer.from('{"id":1,"prompt":"a","response":"x","reward":1}'),
            Buffer.from("not json"),
            Buffer.concat([Buffer.from('{"id":3,"prompt":"a","response":"'), Buffer.from([0xff]), Buffer.from('","reward":3}')]),
            Buffer.from('{"id":4,"prompt":"a","response":"x","reward":-1}'),
        ];
        const input = join(tmp, "unreadable.jsonl");
        writeFileSync(input, Buffer.concat(lines.flatMap((l) => [l, Buffer.from("\n")])));
        const [kept, rejects] = [join(tmp, "unreadable-kept.jsonl"), join(tmp, "unreadable-rejects.jsonl")];
        const { code } = await runInProcess(["filter", input, "--min-reward", "0", "-o", kept, "--rejects", rejects]);
        expect(code).toBe(exitCodes.someRowsFailed);
        const dropped = parseJsonl(readFileSync(rejects, "utf8"));
        expect(dropped.map((r) => [r.line ?? r.id, r.text])).toEqual([[2, "not json"], [3, '{"id":3,"prompt":"a","response":"\udcff","reward":3}'], [4, undefined]]);
        // Python's surrogateescape gives the bytes back: each line of the input is in one of the two files
        const bytesOf = (text: string) => Buffer.from([...text].flatMap((c) => {
            const code = c.charCodeAt(0);
            return code >= 0xdc80 && code <= 0xdcff ? [code - 0xdc00] : [...Buffer.from(c)];
        }));
        const back = [...readFileSync(kept, "utf8").split("\n").filter((l) => l !== "").map((l) => Buffer.from(l)),
            ...dropped.map((r, i) => (r.text !== undefined ? bytesOf(r.text) : Buffer.from(readFileSync(rejects, "utf8").split("\n")[i]!.replace(/,"dropped":.*$/, "}"))))];
        expect(back.map((b) => b.toString("hex")).sort()).toEqual(lines.map((b) => b.toString("hex")).sort());
    });
});

describe("a best-of-N row cut by --top-k (hostile report 4, #22)", () => {
    it("lists parallel to the responses are cut the same way, and response_indexes says which responses each part holds", async () => {
        const input = write("bonm.jsonl", jsonl([{ prompt: "p", responses: ["a", "b", "c"], models: ["m1", "m2", "m3"], tags: ["x"], rewards: [-1, -0.5, -2], best: 1 }]));
        const rejects = join(tmp, "bonm-rejects.jsonl");
        const { code, stdout } = await runInProcess(["filter", input, "--top-k", "1", "--rejects", rejects]);
        expect(code).toBe(0);
        expect(parseJsonl(stdout)).toEqual([{ prompt: "p", responses: ["b"], models: ["m2"], tags: ["x"], rewards: [-0.5], best: 0, response_indexes: [1] }]);
        expect(parseJsonl(readFileSync(rejects, "utf8"))).toEqual([
            { prompt: "p", responses: ["a", "c"], models: ["m1", "m3"], tags: ["x"], rewards: [-1, -2], best: 0, response_indexes: [0, 2], dropped: "not in the top 1 of its group" }]);
        // CSV cells holding JSON lists are cut alike
        const csv = write("bonm.csv", `prompt,responses,models,rewards\np,"[""a"",""b"",""c""]","[""m1"",""m2"",""m3""]","[-1,-0.5,-2]"\n`);
        const fromCsv = await runInProcess(["filter", csv, "--top-k", "2"]);
        expect(parse(fromCsv.stdout, { columns: true })).toEqual([{ prompt: "p", responses: '["a","b"]', models: '["m1","m2"]', rewards: "[-1,-0.5]", response_indexes: "[0,1]", error: "" }]);
    });
});

describe("--rank --group-by (hostile report 4, #3)", () => {
    it("a row without the --group-by field is not ranked with its neighbours: rank and z null, counted, exit 3", async () => {
        const input = write("rank-typo.jsonl", jsonl([
            { prompt_id: 1, prompt: "P", response: "a", reward: 1 },
            { prompt: "P", response: "b", reward: 2 },
            { prompt_id: 1, prompt: "P", response: "c", reward: 3 },
        ]));
        const { code, stdout, stderr } = await runInProcess(["filter", input, "--rank", "--group-by", "prompt_id"]);
        expect(code).toBe(exitCodes.someRowsFailed);
        expect(parseJsonl(stdout).map((r) => [r.response, r.rank])).toEqual([["a", 2], ["b", null], ["c", 1]]);
        expect(stderr).toMatch(/rank-typo\.jsonl:2: no field "prompt_id"/);
        expect(stderr).toMatch(/1 row not ranked \(no --group-by field\)/);
    });
});

describe("bounds compare exactly (hostile report 4, #19)", () => {
    it("a decimal reward with more digits than a double is compared by its value: -1.0000000000000000000001 is below --min-reward -1", async () => {
        const input = ['{"id":1,"reward":-1.0000000000000000000001}', '{"id":2,"reward":-1}', '{"id":3,"reward":-0.99999999999999999999999}', '{"id":4,"reward":-1.0}'].join("\n") + "\n";
        const { code, stdout } = await runInProcess(["filter", "-", "--min-reward", "-1", "--max-reward", "-1"], input);
        expect(code).toBe(0);
        expect(parseJsonl(stdout).map((r) => r.id)).toEqual([2, 4]);
        const csv = await runInProcess(["filter", "-", "--input-format", "csv", "--min-reward", "-1"], "id,reward\n1,-1.0000000000000000000001\n2,-1.00\n");
        expect(csv.stdout).toBe("id,reward,error\n2,-1.00,\n");
    });
});

describe("a reject that cannot be written as it is keeps why it was dropped (hostile report 4, #10)", () => {
    it("CSV rejects: dropped beside the write error (JSONL holds the value)", async () => {
        const input = write("lone.json", `[{"id":1,"prompt":"p","response":"a","reward":-1.5,"u":"\\ud800"},{"id":2,"prompt":"p","response":"b","reward":2,"u":"x"}]`);
        for (const name of ["lone-rejects.jsonl", "lone-rejects.csv"]) {
            const rejects = join(tmp, name);
            await runInProcess(["filter", input, "--top-k", "1", "--rejects", rejects, "-o", join(tmp, "lone-kept.jsonl")]);
            const text = readFileSync(rejects, "utf8");
            const row = name.endsWith(".csv") ? (parse(text, { columns: true }) as Record<string, string>[])[0]! : parseJsonl(text)[0]!;
            expect(row.dropped).toBe("not in the top 1 of its group");
            // JSON holds a lone surrogate as an escape; a CSV cell cannot: its error is beside `dropped`
            if (name.endsWith(".csv")) expect(row.error).toMatch(/lone surrogate/);
            else expect(row.u).toBe("\ud800");
        }
    });

    it("a Parquet NaN or Infinity reward: JSONL rejects say it is not a finite number, beside the error that JSON cannot hold it", async () => {
        const input = join(tmp, "nan.parquet");
        await duck(`COPY (SELECT * FROM (VALUES (1, 'nan'::DOUBLE), (2, 'inf'::DOUBLE), (3, 0.5::DOUBLE)) t(id, reward)) TO '${input}' (FORMAT parquet)`);
        const rejects = join(tmp, "nan-rejects.jsonl");
        const { code, stdout } = await runInProcess(["filter", input, "--max-reward", "1", "--rejects", rejects]);
        expect(code).toBe(exitCodes.someRowsFailed);
        expect(parseJsonl(stdout)).toEqual([{ id: 3, reward: 0.5 }]);
        expect(parseJsonl(readFileSync(rejects, "utf8")).map((r) => [r.id, r.dropped, r.error])).toEqual([
            [1, '"reward" is not a finite number', "column reward: NaN cannot be written as JSON"],
            [2, '"reward" is not a finite number', "column reward: Infinity cannot be written as JSON"]]);
    });
});
