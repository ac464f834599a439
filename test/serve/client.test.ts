import { spawn } from "node:child_process";
import { readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { cli, dataset, duckParquet, jsonl, newDir, parseJsonl, repoRoot, runBuiltCli, tinyModel } from "../helpers.js";
import { serve, type Served } from "./serveHelpers.js";

const tmp = newDir("serve-client");
const input = join(tmp, "rows.jsonl");
const extra = [
    { prompt: "Name a colour.", chosen: "Red.", rejected: "Seven." },
    { prompt: "Name a colour.", responses: ["Red.", "Blue.", "Red."] },
    { messages: [{ role: "user", content: "no answer" }] },
    { id: 1, reward: 7, error: "a field of the user's own" },
];
writeFileSync(input, dataset(60) + jsonl(extra) + "{not json\n");

/** `score` twice, on the model here and on the server: exit status and output bytes. */
async function both(server: Served, args: string[], env: Record<string, string> = {}) {
    const dir = newDir("both");
    const out = args.indexOf("-o");
    const name = out === -1 ? undefined : args[out + 1]!;
    const withOutput = (where: string) => (name === undefined ? args : args.map((a, i) => (i === out + 1 ? join(dir, `${where}-${name}`) : a)));
    const local = await runBuiltCli(["score", ...withOutput("local"), "-m", tinyModel, "-q"]);
    const remote = await runBuiltCli(["score", ...withOutput("remote"), "--server", server.url, "-q"], undefined, env);
    const bytes = (where: string, run: { stdout: string }) => (name === undefined ? run.stdout : readFileSync(join(dir, `${where}-${name}`)).toString("base64"));
    return { local, remote, localBytes: bytes("local", local), remoteBytes: bytes("remote", remote), dir };
}

describe("score --server: byte for byte a local run's output", () => {
    let server: Served;
    beforeAll(async () => {
        server = await serve(["--max-rows", "16"]);
    });
    afterAll(async () => {
        await server.stop();
    });

    it.each([
        ["jsonl to stdout", [input]],
        ["csv", [input, "-o", "out.csv"]],
        ["parquet", [input, "-o", "out.parquet"]],
        ["a shard", [input, "--shard", "1/3", "-o", "part.jsonl"]],
        ["filters and rejects", [input, "--top-k", "1", "--min-reward", "-5", "--rejects", join(tmp, "rejected.jsonl")]],
        ["--rank", [input, "--rank"]],
        ["--field and --on-overlong skip with a small context", [input, "--field", "score", "--on-overlong", "skip", "--context-size", "240"]],
    ])("%s", async (_, args) => {
        const { local, remote, localBytes, remoteBytes } = await both(server, args as string[]);
        expect(remote.code).toBe(local.code);
        expect([0, 3]).toContain(local.code);
        expect(remoteBytes.length).toBeGreaterThan(0);
        expect(remoteBytes).toBe(localBytes);
    });

    it("Parquet input (typed columns), CSV and Parquet output", async () => {
        const source = join(tmp, "rows.jsonl.for-parquet.jsonl");
        writeFileSync(source, dataset(20));
        const parquet = await duckParquet(join(tmp, "rows.parquet"), `SELECT id::BIGINT AS id, prompt, response, 0.5::DECIMAL(4,2) AS weight FROM read_json_auto('${source}')`);
        for (const output of ["out.csv", "out.parquet"]) {
            const { local, remote, localBytes, remoteBytes } = await both(server, [parquet, "-o", output]);
            expect(local.code).toBe(0);
            expect(remote.code).toBe(0);
            expect(remoteBytes).toBe(localBytes);
        }
    });

    it("Parquet output read back with DuckDB: the server's rewards are the local run's", async () => {
        const { dir } = await both(server, [input, "-o", "out.parquet"]);
        const { duck } = await import("../duckdb.js");
        const read = async (where: string) => duck(`SELECT reward FROM '${join(dir, `${where}-out.parquet`)}'`);
        expect(JSON.stringify(await read("remote"))).toBe(JSON.stringify(await read("local")));
    });

    it("--server-api nim against serve's own /v1/chat/completions: the same bytes (single rows, pairs, best-of-N)", async () => {
        const nimInput = join(tmp, "nim.jsonl");
        writeFileSync(nimInput, dataset(12) + jsonl(extra.slice(0, 3)));
        const local = await runBuiltCli(["score", nimInput, "-m", tinyModel, "-q"]);
        const nim = await runBuiltCli(["score", nimInput, "--server", server.url, "--server-api", "nim"]);
        expect(nim.code).toBe(local.code);
        expect(nim.stdout).toBe(local.stdout);
        expect(nim.stderr).toMatch(/NIM chat completions/);
    });

    it("the protocol is asked of the server when not given; a wrong key, or none, is a clear error (exit 1)", async () => {
        const detected = await runBuiltCli(["score", input, "--server", `${server.url}/v1`]);
        expect(detected.stderr).toMatch(/nemoreward serve, tiny-reward/);
        const keyed = await serve(["--api-key", "k3y"]);
        try {
            const refused = await runBuiltCli(["score", input, "--server", keyed.url, "-q"], undefined, { NEMOREWARD_API_KEY: "wrong" });
            expect(refused.code).toBe(1);
            expect(refused.stderr).toMatch(/refused the API key \(401\): set NEMOREWARD_API_KEY/);
            const accepted = await runBuiltCli(["score", input, "--server", keyed.url, "-q"], undefined, { NEMOREWARD_API_KEY: "k3y" });
            expect([0, 3]).toContain(accepted.code);
            expect(parseJsonl(accepted.stdout)).toHaveLength(parseJsonl(detected.stdout).length);
        } finally {
            await keyed.stop();
        }
    });
});

describe("score --server: a server that goes away", () => {
    it("no server there: exit 1, a clear error, stdout empty", async () => {
        const run = await runBuiltCli(["score", input, "--server", "http://127.0.0.1:1", "-q"]);
        expect(run.code).toBe(1);
        expect(run.stderr).toMatch(/cannot be reached or went away/);
        expect(run.stdout).toBe("");
    });

    it("killed mid-run: exit 1 saying so, the rows written kept; --resume against a new server finishes the file as a local run writes it", async () => {
        const dir = newDir("server-dies");
        const out = join(dir, "scored.jsonl");
        const lines = readFileSync(input, "utf8").split(/(?<=\n)/);
        const first = await serve();
        const child = spawn(process.execPath, [cli, "score", "-", "--server", first.url, "-o", out, "-q"], { cwd: repoRoot, stdio: ["pipe", "ignore", "pipe"] });
        let stderr = "";
        child.stderr!.on("data", (c) => (stderr += c));
        const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
        child.stdin!.write(lines.slice(0, 20).join("")); // and the input stays open
        // the rows read so far are written (and recorded) before the server goes
        for (let i = 0; i < 5000 && (statSync(out, { throwIfNoEntry: false })?.size ?? 0) < readFileSync(input, "utf8").length / 10; i++) await new Promise((r) => setTimeout(r, 10));
        first.child.kill("SIGKILL");
        await first.exit;
        child.stdin!.end(lines.slice(20).join(""));
        expect(await exit).toBe(1);
        expect(stderr).toMatch(/went away .*--resume continues/);
        const kept = parseJsonl(readFileSync(out, "utf8"));
        expect(kept.length).toBeGreaterThan(0);
        expect(kept.length).toBeLessThan(lines.length);

        const second = await serve();
        try {
            const resumed = await runBuiltCli(["score", "-", "--server", second.url, "-o", out, "--resume", "-q"], lines.join(""));
            expect(resumed.code).toBe(3); // the rows that cannot be scored
            const local = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
            expect(readFileSync(out, "utf8")).toBe(local.stdout);
        } finally {
            await second.stop();
        }
    });
});

describe("score --server: --resume checks the server's model and template", () => {
    it("a file begun on a server of one template is not finished on a server of another (exit 2)", async () => {
        const dir = newDir("server-template");
        const out = join(dir, "scored.jsonl");
        const template = join(dir, "template.jinja");
        const { llama31Template } = await import("../../src/template/llama31Template.js");
        writeFileSync(template, llama31Template.replace("Cutting Knowledge Date", "Knowledge Cutoff"));
        const lines = readFileSync(input, "utf8").split(/(?<=\n)/);
        const plain = await serve();
        try {
            expect((await runBuiltCli(["score", "-", "--server", plain.url, "-o", out, "-q"], lines.slice(0, 10).join(""))).code).toBe(0);
        } finally {
            await plain.stop();
        }
        const other = await serve(["--chat-template", template]);
        try {
            const resumed = await runBuiltCli(["score", "-", "--server", other.url, "-o", out, "--resume", "-q"], lines.join(""));
            expect(resumed.code).toBe(2);
            expect(resumed.stderr).toMatch(/chat template/);
        } finally {
            await other.stop();
        }
    });
});
