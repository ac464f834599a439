import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Token } from "node-llama-cpp";
import { RewardEngine } from "../../src/engine/rewardEngine.js";
import type { RewardModel } from "../../src/engine/workerPool.js";
import { createLog } from "../../src/log.js";
import { createServer, type ServerSettings } from "../../src/serve/server.js";
import { loadTemplate } from "../../src/template/loadTemplate.js";
import { PassThrough } from "node:stream";
import { tinyModel } from "../helpers.js";
import { post, rawRequest } from "./serveHelpers.js";

const log = createLog(new PassThrough(), { quiet: true });
const settings: ServerSettings = { contextSize: 4096, bodyLimit: 1 << 20, maxRows: 100, queueLimit: 100, requestTimeoutMs: 600_000 };
const row = { prompt: "Hi", response: "Hello" };

/** The tiny model, its rewards held back until the test opens the gate: rows stay in the queue as long as the test wants. */
function gated(engine: RewardEngine): { model: RewardModel; open: () => void; entered: Promise<void> } {
    let open!: () => void, enter!: () => void;
    const gate = new Promise<void>((resolve) => (open = resolve));
    const entered = new Promise<void>((resolve) => (enter = resolve));
    const model: RewardModel = {
        tokenizer: engine.tokenizer, chatTemplate: engine.chatTemplate, bosText: engine.bosText, eosText: engine.eosText,
        description: engine.description, parallel: 1,
        reward: async (tokens: readonly Token[]) => {
            enter();
            await gate;
            return engine.reward(tokens);
        },
        dispose: async () => undefined,
    };
    return { model, open, entered };
}

describe("serve's queue, health and timeouts (in-process, a model that answers when the test says)", () => {
    let engine: RewardEngine;
    beforeAll(async () => {
        engine = await RewardEngine.load({ modelPath: tinyModel, gpu: "cpu", gpuLayers: 0, threads: 1, contextSize: 4096, parallel: 1, precise: false, rewardToken: 0, reuse: true }, log);
    });
    afterAll(async () => {
        await engine.dispose();
    });

    it("GET /health is 503 until the model has loaded, and the endpoints answer 503 with Retry-After meanwhile", async () => {
        const server = createServer(settings);
        const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
        try {
            const loading = await fetch(`${url}/health`);
            expect(loading.status).toBe(503);
            expect(await loading.json()).toEqual({ status: "loading" });
            const early = await post(`${url}/v1/score`, { records: [row] });
            expect(early.status).toBe(503);
            expect(early.headers.get("retry-after")).toBe("5");
            const { model, open } = gated(engine);
            open();
            server.ready({ model, template: loadTemplate(engine, undefined, log), name: "tiny", identity: "tiny", engine: { precise: false, flashAttention: false, rewardToken: 0 } });
            expect((await fetch(`${url}/health`)).status).toBe(200);
            expect((await post(`${url}/v1/score`, { records: [row] })).status).toBe(200);
        } finally {
            await server.close();
        }
    });

    it("a full queue: 429 with Retry-After, the rows queued before it answered; the queue depth in /metrics", async () => {
        const server = createServer({ ...settings, queueLimit: 5 });
        const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
        const { model, open, entered } = gated(engine);
        server.ready({ model, template: loadTemplate(engine, undefined, log), name: "tiny", identity: "tiny", engine: { precise: false, flashAttention: false, rewardToken: 0 } });
        try {
            // two rows in the engine (parallel 1: the row evaluated and the next one tokenized), three waiting
            const first = post(`${url}/v1/score`, { records: [row, row, row, row, row] });
            await entered;
            const metrics = await (await fetch(`${url}/metrics`)).text();
            expect(metrics).toMatch(/^nemoreward_queue_depth 3$/m);
            const refused = await post(`${url}/v1/score`, { records: [row, row, row] });
            expect(refused.status).toBe(429);
            expect(refused.headers.get("retry-after")).toBe("1");
            expect(refused.body.error.message).toMatch(/queue is full \(3 rows waiting, --max-queue 5\)/);
            open();
            const answered = await first;
            expect(answered.status).toBe(200);
            expect(answered.body.results).toHaveLength(5);
        } finally {
            open();
            await server.close();
        }
    });

    it("a request not answered within its time (its rows can never be scored): 503, its waiting rows leave the queue", async () => {
        const server = createServer({ ...settings, requestTimeoutMs: 1000 });
        const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
        const { model, open, entered } = gated(engine); // never opened before the answer: the rows cannot finish
        server.ready({ model, template: loadTemplate(engine, undefined, log), name: "tiny", identity: "tiny", engine: { precise: false, flashAttention: false, rewardToken: 0 } });
        try {
            const answer = await post(`${url}/v1/score`, { records: [row, row, row, row] });
            await entered;
            expect(answer.status).toBe(503);
            expect(answer.headers.get("retry-after")).toBe("1");
            expect(answer.body.error.message).toMatch(/not answered within 1 s \(--request-timeout\)/);
            expect(server.queue!.depth).toBe(0);
        } finally {
            open();
            await server.close();
        }
    });

    it("a client gone mid-request: its waiting rows leave the queue", async () => {
        const server = createServer(settings);
        const url = await server.app.listen({ host: "127.0.0.1", port: 0 });
        const { model, open, entered } = gated(engine);
        server.ready({ model, template: loadTemplate(engine, undefined, log), name: "tiny", identity: "tiny", engine: { precise: false, flashAttention: false, rewardToken: 0 } });
        try {
            const body = JSON.stringify({ records: [row, row, row, row, row, row] });
            const client = rawRequest(url, "/v1/score", body);
            client.send(body);
            await entered;
            expect(server.queue!.depth).toBe(4);
            client.socket.destroy();
            await client.answer;
            await new Promise<void>((resolve) => {
                const look = () => (server.queue!.depth === 0 ? resolve() : setImmediate(look));
                look();
            });
            expect(server.queue!.depth).toBe(0);
        } finally {
            open();
            await server.close();
        }
    });
});
