import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import OpenAI from "openai";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataset, demoConversations, newDir, parseJsonl, referenceRewards, runBuiltCli, tinyModel } from "../helpers.js";
import { post, rawRequest, serve, status, type Served } from "./serveHelpers.js";

const referenceReward = referenceRewards();
const tmp = newDir("serve");
const input = join(tmp, "rows.jsonl");
// runs of rows sharing a prompt (prefix reuse at work), the demo conversations, pairs, best-of-N and rows that cannot be scored
const records = [
    ...parseJsonl(dataset(24)),
    ...parseJsonl(execFileSync("cat", [demoConversations], { encoding: "utf8" })),
    { prompt: "Name a colour.", chosen: "Red.", rejected: "Seven." },
    { prompt: "Name a colour.", responses: ["Red.", "Blue.", "Red."] },
    { messages: [{ role: "user", content: "no answer" }] },
    { text: "no conversation here" },
    JSON.parse('{"__proto__": {"x": 1}, "constructor": {"prototype": 1}, "prompt": "What is 1+1?", "response": "2"}'),
];
writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");

/** The fields `score` added to each row, from a local run's JSONL (the input's own fields removed). */
async function scoreFields(): Promise<Record<string, unknown>[]> {
    const run = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
    expect([0, 3]).toContain(run.code);
    return parseJsonl(run.stdout).map((row, i) => Object.fromEntries(Object.entries(row).filter(([name]) => !(name in records[i]!))));
}

/** A number's exact text: equal texts, equal doubles bit for bit. */
const exact = (value: unknown) => JSON.stringify(value);

const llama3 = (prompt: string, response: string) =>
    `<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nCutting Knowledge Date: December 2023\nToday Date: 03 Dec 2026\n\n<|eot_id|>` +
    `<|start_header_id|>user<|end_header_id|>\n\n${prompt}<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n${response}<|eot_id|>`;

describe("nemoreward serve: the rewards of score, from every endpoint", () => {
    let server: Served;
    let local: Record<string, unknown>[];
    beforeAll(async () => {
        [server, local] = await Promise.all([serve(), scoreFields()]);
    });
    afterAll(async () => {
        expect(await server.stop()).toBe(0);
    });

    it("POST /v1/score answers each record with the fields score writes, in order, values bit for bit (error rows as rows)", async () => {
        const { status, body, text } = await post(`${server.url}/v1/score`, { records });
        expect(status).toBe(200);
        expect(body.results).toHaveLength(records.length);
        body.results.forEach((fields: Record<string, unknown>, i: number) => {
            expect(Object.keys(fields), `row ${i}`).toEqual(Object.keys(local[i]!));
            expect(exact(fields), `row ${i}`).toBe(exact(local[i]));
        });
        expect(body.results.at(-3).error).toMatch(/not "assistant"/);
        expect(body.results.at(-2).reward).toBeNull();
        // a record with "__proto__" and "constructor" keys is data, as score reads it
        expect(body.results.at(-1).reward).toEqual(expect.any(Number));
        // and the values are the reference model's (an independent float64 forward pass)
        const first = records[0] as { prompt: string; response: string };
        expect(body.results[0].reward).toBeCloseTo(referenceReward(first.prompt, first.response), 3);
        expect(text).not.toContain("\n");
    });

    it("a row's reward does not depend on its neighbours: alone, in another order, from many clients at once", async () => {
        const singles = records.slice(0, 12);
        const alone = await Promise.all(singles.map((record) => post(`${server.url}/v1/score`, { records: [record] })));
        const reversed = await post(`${server.url}/v1/score`, { records: [...singles].reverse() });
        singles.forEach((_, i) => {
            expect(exact(alone[i]!.body.results[0])).toBe(exact(local[i]));
            expect(exact(reversed.body.results[singles.length - 1 - i])).toBe(exact(local[i]));
        });
    });

    it("POST /v1/chat/completions with the openai SDK: reward:<x> and the logprob, score's reward", async () => {
        const client = new OpenAI({ baseURL: `${server.url}/v1`, apiKey: "unused" });
        const first = records[0] as { prompt: string; response: string };
        const completion = await client.chat.completions.create({
            model: "nvidia/llama-3.1-nemotron-70b-reward",
            messages: [{ role: "user", content: first.prompt }, { role: "assistant", content: first.response }],
        });
        expect(completion.choices[0]!.message.content).toBe(`reward:${local[0]!["reward"]}`);
        const logprob = (completion.choices[0]!.logprobs as { content: { token: string; logprob: number }[] }).content[0]!;
        expect(logprob.token).toBe("reward");
        expect(exact(logprob.logprob)).toBe(exact(local[0]!["reward"]));
        const models = await client.models.list();
        expect(models.data.map((m) => m.id)).toEqual(["tiny-reward"]);
        // a conversation that cannot be scored: 400, the SDK's error says why
        await expect(client.chat.completions.create({ model: "m", messages: [{ role: "user", content: "hi" }] })).rejects.toThrow(/not "assistant"/);
    });

    it("POST /get_reward from a Python urllib client with OpenRLHF's exact body: Llama 3 text, ChatML text, plain prompt + response", () => {
        const rows = records.slice(0, 3) as { prompt: string; response: string }[];
        const body = {
            query: [llama3(rows[0]!.prompt, rows[0]!.response), `<|im_start|>user\n${rows[1]!.prompt}<|im_end|>\n<|im_start|>assistant\n${rows[1]!.response}<|im_end|>\n`, `${rows[2]!.prompt} ${rows[2]!.response}</s>`],
            prompts: [llama3(rows[0]!.prompt, "").replace(/<\|eot_id\|>$/, ""), `<|im_start|>user\n${rows[1]!.prompt}<|im_end|>\n<|im_start|>assistant\n`, `${rows[2]!.prompt} `],
            labels: ["", "", ""],
        };
        const python = `
import json, sys, urllib.request
request = urllib.request.Request(sys.argv[1] + "/get_reward", data=json.dumps(json.load(sys.stdin)).encode(), headers={"Content-Type": "application/json"})
with urllib.request.urlopen(request) as response:
    answer = json.loads(response.read().decode())
print(json.dumps({"rewards": [repr(r) for r in answer["rewards"]], "scores": [repr(r) for r in answer["scores"]]}))
`;
        const answer = JSON.parse(execFileSync("python3", ["-c", python, server.url], { input: JSON.stringify(body), encoding: "utf8" })) as { rewards: string[]; scores: string[] };
        // Python's repr of a float is its shortest exact text, as JavaScript's: the same double
        expect(answer.rewards).toEqual([0, 1, 2].map((i) => String(local[i]!["reward"])));
        expect(answer.scores).toEqual(answer.rewards);
    });

    it("POST /get_reward refuses what it cannot read back, with a 400 that says why", async () => {
        const cases: [object, RegExp][] = [
            [{ query: ["[INST] hi [/INST] hello"], prompts: ["[INST] hi [/INST]"] }, /query\/0: .*cannot read back.*\[INST\]/],
            [{ query: ["hello there"] }, /no prompt was sent/],
            [{ query: ["hello there"], prompts: ["goodbye"] }, /does not begin with its prompt/],
            [{ query: [llama3("hi", "x").replace(/<\|start_header_id\|>assistant.*$/s, "")] }, /ends with a user turn/],
            [{ query: ["a", "b"], prompts: ["a"] }, /1 prompts for 2 queries/],
            [{ query: "text" }, /body\/query must be array/],
            // markers of a template read back, but headers it does not know (Phi-4): a 400 naming the query, never a 500
            [{ query: [llama3("hi", "x"), "<|im_start|>user<|im_sep|>What is 1+1?<|im_end|><|im_start|>assistant<|im_sep|>1+1=2<|im_end|>"] }, /query\/1: ChatML markers without a ChatML turn header/],
            [{ query: ["<|begin_of_text|><|start_header_id|>user<|end_header_id|>What is 1+1?<|eot_id|>"] }, /query\/0: Llama 3 markers without/],
        ];
        for (const [body, reason] of cases) {
            const answer = await post(`${server.url}/get_reward`, body);
            expect(answer.status, JSON.stringify(body)).toBe(400);
            expect(answer.body.error.message).toMatch(reason);
        }
    });

    it("malformed JSON and wrong shapes: 400 naming the field; an unknown route 404", async () => {
        expect((await post(`${server.url}/v1/score`, '{"records": [')).status).toBe(400);
        const wrong = await post(`${server.url}/v1/score`, { records: [1] });
        expect(wrong.status).toBe(400);
        expect(wrong.body.error.message).toMatch(/body\/records\/0 must be object/);
        const missing = await post(`${server.url}/v1/chat/completions`, { model: "m" });
        expect(missing.body.error.message).toMatch(/must have required property 'messages'/);
        const shape = await post(`${server.url}/v1/chat/completions`, { messages: "x" });
        expect(shape.body.error.message).toMatch(/body\/messages must be array/);
        const field = await post(`${server.url}/v1/score`, { records: [{}], field: "error" });
        expect(field.body.error.message).toMatch(/body\/field/);
        expect((await fetch(`${server.url}/nowhere`)).status).toBe(404);
    });

    it("GET /health says ready; GET /metrics counts rows, tokens, errors, queue depth, latency (Prometheus text)", async () => {
        const health = await fetch(`${server.url}/health`);
        expect(health.status).toBe(200);
        expect(await health.json()).toEqual({ status: "ready", model: "tiny-reward" });
        const metrics = await (await fetch(`${server.url}/metrics`)).text();
        expect(metrics).toMatch(/^nemoreward_rows_total [1-9]\d*$/m);
        expect(metrics).toMatch(/^nemoreward_row_errors_total [1-9]\d*$/m);
        expect(metrics).toMatch(/^nemoreward_tokens_total [1-9]\d*$/m);
        expect(metrics).toMatch(/^nemoreward_queue_depth 0$/m);
        expect(metrics).toMatch(/^nemoreward_request_duration_seconds_bucket\{route="\/v1\/score",le="\+Inf"\} \d+$/m);
        expect(metrics).toMatch(/^# TYPE nemoreward_request_duration_seconds histogram$/m);
    });

    it("a slow client (a byte at a time) holds nothing: another client is answered while its body is half sent", async () => {
        const body = JSON.stringify({ records: records.slice(0, 2) });
        const slow = rawRequest(server.url, "/v1/score", body);
        slow.send(body.slice(0, 1));
        slow.send(body.slice(1, 2));
        const other = await post(`${server.url}/v1/score`, { records: records.slice(2, 3) });
        expect(other.status).toBe(200);
        expect(exact(other.body.results[0])).toBe(exact(local[2]));
        for (const char of body.slice(2)) slow.send(char);
        const answer = await slow.answer;
        expect(status(answer)).toBe(200);
        expect(exact(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).results)).toBe(exact(local.slice(0, 2)));
    });
});

describe("nemoreward serve: security and limits", () => {
    it("binds 127.0.0.1 by default; another address without --api-key or --insecure-no-auth is refused (exit 2)", async () => {
        const run = await runBuiltCli(["serve", "-m", tinyModel, "--host", "0.0.0.0", "--port", "0"]);
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/--api-key.*--insecure-no-auth/);
        expect(run.stdout).toBe("");
    });

    it("with a key (--api-key or $NEMOREWARD_API_KEY): a wrong or missing key gets 401 and no model work; /health stays open", async () => {
        const server = await serve(["--host", "0.0.0.0"], { NEMOREWARD_API_KEY: "s3cret" });
        try {
            const url = server.url.replace("0.0.0.0", "127.0.0.1");
            const body = { records: records.slice(0, 1) };
            expect((await post(`${url}/v1/score`, body)).status).toBe(401);
            expect((await post(`${url}/v1/score`, body, { authorization: "Bearer s3cre" })).status).toBe(401);
            expect((await post(`${url}/v1/score`, body, { authorization: "Bearer s3cret!" })).status).toBe(401);
            expect((await fetch(`${url}/metrics`)).status).toBe(401);
            expect((await fetch(`${url}/health`)).status).toBe(200);
            const metrics = await (await fetch(`${url}/metrics`, { headers: { authorization: "Bearer s3cret" } })).text();
            expect(metrics).toMatch(/^nemoreward_rows_total 0$/m);
            expect((await post(`${url}/v1/score`, body, { authorization: "Bearer s3cret" })).status).toBe(200);
        } finally {
            await server.stop();
        }
    });

    it("limits: body over --max-body-mb 413, rows over --max-rows 413, a conversation over the context a per-row error", async () => {
        const server = await serve(["--max-body-mb", "1", "--max-rows", "3", "--context-size", "256"]);
        try {
            const big = await post(`${server.url}/v1/score`, { records: [{ prompt: "x".repeat(1 << 21), response: "y" }] });
            expect(big.status).toBe(413);
            expect(big.body.error.message).toMatch(/1048576-byte limit \(--max-body-mb\)/);
            const many = await post(`${server.url}/v1/score`, { records: records.slice(0, 4) });
            expect(many.status).toBe(413);
            expect(many.body.error.message).toMatch(/4 rows in one request; the limit is 3 \(--max-rows\)/);
            const long = await post(`${server.url}/v1/score`, { records: [{ prompt: "word ".repeat(400), response: "yes" }, { prompt: "Hi", response: "Hello" }] });
            expect(long.status).toBe(200);
            expect(long.body.results[0]).toEqual({ reward: null, error: expect.stringMatching(/over the 256-token context/) });
            expect(long.body.results[1].reward).toEqual(expect.any(Number));
            const nim = await post(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "word ".repeat(400) }, { role: "assistant", content: "yes" }] });
            expect(nim.status).toBe(400);
            expect(nim.body.error.message).toMatch(/over the 256-token context/);
        } finally {
            await server.stop();
        }
    });

    it("--request-timeout: a request whose body never completes gets 408 and its connection closed", async () => {
        const server = await serve(["--request-timeout", "0.2"]);
        try {
            const body = JSON.stringify({ records: records.slice(0, 1) });
            const stalled = rawRequest(server.url, "/v1/score", body);
            stalled.send(body.slice(0, 5)); // and never the rest
            const answer = await stalled.answer;
            expect(status(answer)).toBe(408);
            expect(answer).toMatch(/did not arrive within 0.2 s \(--request-timeout\)/);
        } finally {
            await server.stop();
        }
    });

    it("SIGTERM: stops taking connections, answers the request in flight, exits 0; a second signal exits at once", async () => {
        /** Until the server has rows of a request in its engine: that request's body has arrived and it is in flight. */
        const scoring = async (url: string) => {
            for (;;) {
                const metrics = await (await fetch(`${url}/metrics`)).text();
                if (/^nemoreward_rows_total [1-9]/m.test(metrics) || /^nemoreward_rows_in_engine [1-9]/m.test(metrics)) return;
                await new Promise((resolve) => setImmediate(resolve));
            }
        };
        const server = await serve();
        const body = JSON.stringify({ records: records.slice(0, 20) });
        const inFlight = rawRequest(server.url, "/v1/score", body);
        inFlight.send(body);
        await scoring(server.url);
        server.child.kill("SIGTERM");
        await new Promise<void>((resolve) => server.child.stderr!.on("data", () => { if (/stopping: no new requests/.test(server.stderr())) resolve(); }));
        await expect(fetch(`${server.url}/health`)).rejects.toThrow();
        const answer = await inFlight.answer;
        expect(status(answer)).toBe(200);
        expect(JSON.parse(answer.slice(answer.indexOf("\r\n\r\n") + 4)).results).toHaveLength(20);
        expect(await server.exit).toBe(0);

        // a request of thousands of rows in the engine: only a second signal ends the server before it is answered
        const second = await serve();
        const many = JSON.stringify({ records: Array.from({ length: 4000 }, (_, i) => ({ prompt: `Question ${i}?`, response: "Answer." })) });
        const long = rawRequest(second.url, "/v1/score", many);
        long.send(many);
        await scoring(second.url);
        second.child.kill("SIGTERM");
        await new Promise<void>((resolve) => second.child.stderr!.on("data", () => { if (/stopping: no new requests/.test(second.stderr())) resolve(); }));
        second.child.kill("SIGTERM");
        expect(await second.exit).toBe(130);
        long.socket.destroy();
    });
});
