import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataset, newDir, runBuiltCli, tinyModel } from "../helpers.js";
import { serve, type Served } from "./serveHelpers.js";

const tmp = newDir("serve-engine");
const input = join(tmp, "rows.jsonl");
writeFileSync(input, dataset(6));

describe("score --server: the server's engine settings are the server's", () => {
    let plain: Served, precise: Served;
    beforeAll(async () => {
        [plain, precise] = await Promise.all([serve(), serve(["--precise", "--reward-token", "5"])]);
    });
    afterAll(async () => {
        await Promise.all([plain.stop(), precise.stop()]);
    });

    it.each([
        [["--precise"], /--precise: the server at .* scores with --precise off/],
        [["--flash-attention"], /--flash-attention: the server at .* scores with --flash-attention off/],
        [["--reward-token", "5"], /--reward-token: the server at .* scores with --reward-token 0/],
    ])("a flag that changes rewards, given here and not the server's, is refused (exit 2, one line): %s", async (flags, message) => {
        const run = await runBuiltCli(["score", input, "--server", plain.url, ...(flags as string[])]);
        expect(run.code).toBe(2);
        expect(run.stdout).toBe("");
        expect(run.stderr).toMatch(message);
    });

    it("--reward-token 0 given, against a server of token 5: refused, naming the server's value", async () => {
        const run = await runBuiltCli(["score", input, "--server", precise.url, "--precise", "--reward-token", "0"]);
        expect(run.code).toBe(2);
        expect(run.stderr).toMatch(/--reward-token: the server at .* scores with --reward-token 5/);
    });

    it("the server's settings given here too: the rewards are a local run's with them", async () => {
        const local = await runBuiltCli(["score", input, "-m", tinyModel, "--precise", "--reward-token", "5", "-q"]);
        const remote = await runBuiltCli(["score", input, "--server", precise.url, "--precise", "--reward-token", "5", "-q"]);
        const bare = await runBuiltCli(["score", input, "--server", precise.url, "-q"]);
        expect(local.code).toBe(0);
        expect(remote.stdout).toBe(local.stdout);
        expect(bare.stdout).toBe(local.stdout);
    });

    it("speed-only flags are left to the server, with a note", async () => {
        const run = await runBuiltCli(["score", input, "--server", plain.url, "--parallel", "4", "--no-reuse"]);
        expect(run.code).toBe(0);
        expect(run.stderr).toMatch(/--parallel, --no-reuse: ignored with --server/);
    });

    it("the .resume record holds the server's settings: a local --resume with other settings is refused", async () => {
        const out = join(newDir("engine-resume"), "scored.jsonl");
        const lines = readFileSync(input, "utf8").split(/(?<=\n)/);
        expect((await runBuiltCli(["score", "-", "--server", precise.url, "-o", out, "-q"], lines.slice(0, 3).join(""))).code).toBe(0);
        const other = await runBuiltCli(["score", input, "-m", tinyModel, "-o", out, "--resume", "-q"]);
        expect(other.code).toBe(2);
        const same = await runBuiltCli(["score", input, "-m", tinyModel, "--precise", "--reward-token", "5", "-o", out, "--resume", "-q"]);
        expect(same.code).toBe(0);
        const whole = await runBuiltCli(["score", input, "-m", tinyModel, "--precise", "--reward-token", "5", "-q"]);
        expect(readFileSync(out, "utf8")).toBe(whole.stdout);
    });
});
