import { createReadStream, mkdtempSync, readFileSync, statSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { tinySpec, writeSplitModel } from "../../fixtures/makeModel.js";
import { demoConversations, parseJsonl, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-models-"));
const splitParts = writeSplitModel(join(tmp, "served", "tiny-reward"), tinySpec, 3);
const served = new Map([[tinyModel, "tiny-reward.gguf"], ...splitParts.map((p) => [p, basename(p)] as const)].map(([p, n]) => [`/${n}`, p]));
let server: Server;
let base: string;
const requests: string[] = [];
/** Paths whose first full download is cut off half-way, as a dropped connection would. */
const cutOnce = new Set<string>();

beforeAll(async () => {
    // a static file server on loopback with HEAD and Range support, as a Hugging Face CDN would answer
    server = createServer((req, res) => {
        requests.push(`${req.method} ${req.url} ${req.headers.range ?? ""}`.trim());
        const file = served.get(req.url ?? "");
        if (file === undefined) return void res.writeHead(404).end();
        const size = statSync(file).size;
        const range = /bytes=(\d+)-(\d*)/.exec(req.headers.range ?? "");
        const [start, end] = range ? [Number(range[1]), range[2] ? Number(range[2]) : size - 1] : [0, size - 1];
        res.writeHead(range ? 206 : 200, {
            "content-length": end - start + 1,
            "accept-ranges": "bytes",
            "content-type": "application/octet-stream",
            ...(range ? { "content-range": `bytes ${start}-${end}/${size}` } : {}),
        });
        if (req.method === "HEAD") return void res.end();
        // the downloader's ranged transfer, not its first probe, is the one to cut
        if (range && end - start > 1000 && cutOnce.delete(req.url ?? "")) {
            createReadStream(file, { start, end: start + Math.floor((end - start) / 2) })
                .on("end", () => res.destroy())
                .pipe(res, { end: false });
            return;
        }
        createReadStream(file, { start, end }).pipe(res);
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const address = server.address();
    base = `http://127.0.0.1:${typeof address === "object" && address ? address.port : 0}`;
});

afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function withEnv<T>(env: Record<string, string | undefined>, run: () => Promise<T>): Promise<T> {
    const saved = Object.fromEntries(Object.keys(env).map((k) => [k, process.env[k]]));
    Object.assign(process.env, env);
    for (const [k, v] of Object.entries(env)) if (v === undefined) delete process.env[k];
    return run().finally(() => {
        for (const [k, v] of Object.entries(saved)) {
            if (v === undefined) delete process.env[k];
            else process.env[k] = v;
        }
    });
}

describe("nemoreward pull", () => {
    it("downloads into NEMOREWARD_HOME, prints the path on stdout, and becomes the default model", async () => {
        const home = join(tmp, "home1");
        await withEnv({ NEMOREWARD_HOME: home, NEMOREWARD_MODEL: undefined }, async () => {
            const pulled = await runInProcess(["pull", `${base}/tiny-reward.gguf`]);
            expect(pulled.code).toBe(0);
            const path = pulled.stdout.trim();
            expect(path.startsWith(join(home, "models"))).toBe(true);
            expect(readFileSync(path).equals(readFileSync(tinyModel))).toBe(true);
            expect(pulled.stderr).toMatch(/downloading/);
            // no --model, no NEMOREWARD_MODEL: the last pulled model is used
            const scored = await runInProcess(["score", demoConversations]);
            expect(scored.code).toBe(0);
            expect(parseJsonl(scored.stdout)).toHaveLength(5);
        });
        expect(requests.some((r) => r.startsWith("GET /tiny-reward.gguf"))).toBe(true);
    });

    it("fetches every part of a split model from the first part's URL; the split model scores like the whole one", async () => {
        const home = join(tmp, "home2");
        await withEnv({ NEMOREWARD_HOME: home }, async () => {
            const pulled = await runInProcess(["pull", `${base}/${basename(splitParts[0]!)}`]);
            expect(pulled.code).toBe(0);
            const first = pulled.stdout.trim();
            for (const part of splitParts) expect(readFileSync(join(home, "models", basename(part))).equals(readFileSync(part))).toBe(true);
            const split = await runInProcess(["score", demoConversations, "-m", first, "--no-reuse"]);
            const whole = await runInProcess(["score", demoConversations, "-m", tinyModel, "--no-reuse"]);
            expect(parseJsonl(split.stdout)).toEqual(parseJsonl(whole.stdout));
        });
    });

    it("retries a transfer whose connection dropped half-way and ends with the right bytes", async () => {
        const home = join(tmp, "home4");
        const before = requests.length;
        cutOnce.add("/tiny-reward.gguf");
        await withEnv({ NEMOREWARD_HOME: home }, async () => {
            const pulled = await runInProcess(["pull", `${base}/tiny-reward.gguf`]);
            expect(pulled.code).toBe(0);
            expect(readFileSync(pulled.stdout.trim()).equals(readFileSync(tinyModel))).toBe(true);
        });
        expect(cutOnce.size).toBe(0);
        // the cut transfer was asked for again (the downloader retries a ranged chunk whole: this file is one chunk)
        const ranged = requests.slice(before).filter((r) => /^GET \/tiny-reward\.gguf bytes=/.test(r));
        expect(ranged.length).toBeGreaterThan(1);
    });

    it("fails with exit 1 and one line when the file is not there", async () => {
        await withEnv({ NEMOREWARD_HOME: join(tmp, "home3") }, async () => {
            const { code, stderr } = await runInProcess(["pull", `${base}/missing.gguf`]);
            expect(code).toBe(1);
            expect(stderr).toMatch(/cannot download/);
        });
    });
});

describe("finding the model", () => {
    it("--model wins over NEMOREWARD_MODEL, which wins over the last pulled model", async () => {
        await withEnv({ NEMOREWARD_HOME: join(tmp, "empty"), NEMOREWARD_MODEL: tinyModel }, async () => {
            expect((await runInProcess(["score", demoConversations])).code).toBe(0);
            const wrong = await runInProcess(["score", demoConversations, "-m", join(tmp, "nope.gguf")]);
            expect(wrong.code).toBe(1);
            expect(wrong.stderr).toMatch(/model file not found: .*nope.gguf \(from --model\)/);
        });
    });

    it("with no model anywhere, one message lists the three ways (usage error)", async () => {
        await withEnv({ NEMOREWARD_HOME: join(tmp, "empty"), NEMOREWARD_MODEL: undefined }, async () => {
            const { code, stderr } = await runInProcess(["score", demoConversations]);
            expect(code).toBe(2);
            expect(stderr).toMatch(/--model FILE.*NEMOREWARD_MODEL.*nemoreward pull/);
        });
    });
});

describe("nemoreward info", () => {
    it("--json reports the fixture's shape, read from the file", async () => {
        const { code, stdout } = await runInProcess(["info", tinyModel, "--json"]);
        expect(code).toBe(0);
        const info = JSON.parse(stdout);
        // 267 tokens × 64 (embeddings and output) + 2 layers × (attention 64·64·2 + 64·32·2 + FFN 3·64·128 + 2 norms) + final norm
        const expected = 2 * 267 * 64 + 2 * (2 * 64 * 64 + 2 * 64 * 32 + 3 * 64 * 128 + 2 * 64) + 64;
        expect(info).toMatchObject({
            architecture: "llama", parameters: expected, quantization: "F32", fileSize: statSync(tinyModel).size,
            contextLength: 8192, vocabSize: 267, rewardToken: { id: 0, text: "!" }, tiedOutput: false,
            hasChatTemplate: true, chatTemplateFamily: "llama3",
        });
    });

    it("takes the model as -m/--model too, as score does; naming it twice is a usage error", async () => {
        const positional = await runInProcess(["info", tinyModel, "--json"]);
        for (const flag of ["-m", "--model"]) {
            const { code, stdout } = await runInProcess(["info", flag, tinyModel, "--json"]);
            expect(code).toBe(0);
            expect(JSON.parse(stdout)).toEqual(JSON.parse(positional.stdout));
        }
        const twice = await runInProcess(["info", tinyModel, "-m", tinyModel]);
        expect(twice.code).toBe(2);
        expect(twice.stdout).toBe("");
        expect(twice.stderr).toMatch(/^nemoreward: error: .*model/m);
    });

    it("adds up all parts of a split file", async () => {
        const { stdout } = await runInProcess(["info", splitParts[0]!, "--json"]);
        const info = JSON.parse(stdout);
        expect(info.parts).toBe(3);
        expect(info.fileSize).toBe(splitParts.reduce((n, p) => n + statSync(p).size, 0));
    });

    it("prints a readable summary", async () => {
        const { stdout } = await runInProcess(["info", tinyModel]);
        expect(stdout).toMatch(/architecture\s+llama/);
        expect(stdout).toMatch(/reward token\s+0 "!"/);
        expect(stdout).toMatch(/memory estimate/);
    });
});
