import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonl, newDir, runBuiltCli, tinyModel } from "../helpers.js";
import { post, serve, type Served } from "./serveHelpers.js";

const conversations = [
    [{ role: "user", content: "hi" }, { role: "tool", content: "r", tool_call_id: "a" }, { role: "assistant", content: "ok" }],
    [{ role: "developer", content: "Be brief." }, { role: "user", content: "Capital of France?" }, { role: "assistant", content: "Paris." }],
    [{ role: "user", content: [{ type: "text", text: "What is 1+1?" }] }, { role: "assistant", content: "1+1=2" }],
    [{ role: "user", content: "What is 1+1?", name: "bob" }, { role: "assistant", content: "1+1=2", tool_calls: [{ id: "a", type: "function", function: { name: "f", arguments: "{}" } }] }],
];

describe("serve's NIM route (/v1/chat/completions) reads messages as score does", () => {
    let server: Served;
    beforeAll(async () => {
        server = await serve();
    });
    afterAll(async () => {
        await server.stop();
    });

    it("tool and developer roles, content as text parts: the reward /v1/score gives the same record", async () => {
        for (const messages of conversations) {
            const native = await post(`${server.url}/v1/score`, { records: [{ messages }] });
            const nim = await post(`${server.url}/v1/chat/completions`, { model: "m", messages });
            expect(native.status).toBe(200);
            expect(typeof native.body.results[0].reward, JSON.stringify(native.body)).toBe("number");
            expect(nim.status, nim.text).toBe(200);
            expect(nim.body.choices[0].message.content).toBe(`reward:${native.body.results[0].reward}`);
        }
    });

    it("what score refuses, the route refuses with score's reason (400)", async () => {
        const nim = await post(`${server.url}/v1/chat/completions`, { messages: [{ role: "user", content: "no answer" }] });
        expect(nim.status).toBe(400);
        const native = await post(`${server.url}/v1/score`, { records: [{ messages: [{ role: "user", content: "no answer" }] }] });
        expect(nim.body.error.message).toBe(native.body.results[0].error);
    });

    it.each([
        [{ stream: true }, /body\/stream: streaming is not supported/],
        [{ stream: "yes" }, /body\/stream/],
        [{ n: 2 }, /body\/n: one choice only/],
    ])("%j: 400 saying it is not supported, never a plain body", async (extra, reason) => {
        const answer = await post(`${server.url}/v1/chat/completions`, { model: "m", messages: conversations[1], ...extra });
        expect(answer.status).toBe(400);
        expect(answer.body.error.message).toMatch(reason);
    });

    it("a request of many rows: no MaxListenersExceededWarning on the server's stderr", async () => {
        const answer = await post(`${server.url}/v1/score`, { records: Array.from({ length: 40 }, (_, i) => ({ prompt: `Q${i}`, response: "A" })) });
        expect(answer.status).toBe(200);
        expect(server.stderr()).not.toMatch(/MaxListeners/);
    });

    it("score --server-api nim against serve: the local run's bytes for the same records", async () => {
        const input = join(newDir("nim-roles"), "roles.jsonl");
        writeFileSync(input, jsonl(conversations.map((messages) => ({ messages }))));
        const local = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
        const nim = await runBuiltCli(["score", input, "--server", server.url, "--server-api", "nim", "-q"]);
        expect(local.code).toBe(0);
        expect(nim.code).toBe(0);
        expect(nim.stdout).toBe(local.stdout);
    });
});
