import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newDir, parseJsonl, runBuiltCli, tinyModel } from "../helpers.js";
import { serve, type Served } from "./serveHelpers.js";

const tmp = newDir("serve-max-errors");
const input = join(tmp, "errors.jsonl");
// every third row cannot be scored (no conversation in it)
const records = Array.from({ length: 300 }, (_, i) => (i % 3 === 2 ? { id: i, text: "no conversation here" } : { id: i, prompt: `Question ${i % 7}?`, response: `Answer ${i}.` }));
writeFileSync(input, records.map((r) => JSON.stringify(r)).join("\n") + "\n");
/** The rows a run stopped by --max-errors N writes: those up to the one that reaches N, in input order. */
const upTo = (n: number) => records.findIndex((_, i) => records.slice(0, i + 1).filter((r) => "text" in r).length === n) + 1;

describe("score --server --max-errors: the output a local run writes", () => {
    let server: Served;
    beforeAll(async () => {
        server = await serve();
    });
    afterAll(async () => {
        await server.stop();
    });

    it.each([[1], [5], [40]])("--max-errors %i: the same rows and bytes, stopped at the row that reached the limit", async (n) => {
        const local = await runBuiltCli(["score", input, "-m", tinyModel, "--max-errors", String(n), "-q"]);
        const remote = await runBuiltCli(["score", input, "--server", server.url, "--max-errors", String(n), "-q"]);
        expect(local.code).toBe(3);
        expect(remote.code).toBe(3);
        expect(parseJsonl(local.stdout).map((r) => r["id"])).toEqual(records.slice(0, upTo(n)).map((r) => r.id));
        expect(remote.stdout).toBe(local.stdout);
    });
});
