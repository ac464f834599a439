import { describe, expect, it } from "vitest";
import { runBuiltCli, tinyModel } from "../helpers.js";

describe("serve --api-key", () => {
    it.each([[""], ["   "]])("a blank key (%j) is a usage error (exit 2), on loopback as on 0.0.0.0", async (key) => {
        for (const host of ["127.0.0.1", "0.0.0.0"]) {
            const run = await runBuiltCli(["serve", "-m", tinyModel, "--port", "0", "--host", host, "--api-key", key]);
            expect(run.code).toBe(2);
            expect(run.stderr).toMatch(/--api-key is blank/);
        }
    });
});

describe("serve's listening line", () => {
    it("names the bound host: 0.0.0.0 when bound to every interface", async () => {
        const { serve } = await import("./serveHelpers.js");
        const server = await serve(["--host", "0.0.0.0", "--api-key", "k3y"]);
        try {
            expect(server.stderr()).toMatch(/listening on http:\/\/0\.0\.0\.0:\d+\n/);
        } finally {
            await server.stop();
        }
        const local = await serve();
        try {
            expect(local.stderr()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+\n/);
        } finally {
            await local.stop();
        }
    });
});

describe("serve checks the engine flags as score does (one table of rules)", () => {
    it.each([
        [["--workers", "2", "--gpus", "all"], "--workers and --gpus cannot be combined"],
        [["--gpus", "0", "--gpu", "cpu"], "--gpus starts a worker per CUDA device; it cannot go with --gpu cpu"],
        [["--workers", "100000"], "--workers 100000: this process may use"],
    ])("%j is refused (exit 2) before it listens, with score's line", async (flags, line) => {
        const served = await runBuiltCli(["serve", "-m", tinyModel, "--port", "0", ...flags]);
        expect(served.code).toBe(2);
        expect(served.stderr).toContain(line);
        expect(served.stderr).not.toMatch(/listening on/);
        const scored = await runBuiltCli(["score", "-m", tinyModel, ...flags], "");
        expect(scored.stderr).toContain(line);
    });
});
