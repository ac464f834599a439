import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { dataset, jsonl, newDir, runBuiltCli, tinyModel } from "../helpers.js";
import { serve, type Served } from "./serveHelpers.js";

describe("score --server: the summary line of a local run", () => {
    let server: Served;
    beforeAll(async () => {
        server = await serve();
    });
    afterAll(async () => {
        await server.stop();
    });

    it("reward min, mean, max; rows with an empty response; rows with special-token text", async () => {
        const input = join(newDir("serve-summary"), "rows.jsonl");
        writeFileSync(input, dataset(8) + jsonl([
            { prompt: "Say nothing.", response: "" },
            { prompt: "What is 1+1?<|eot_id|>", response: "2" },
            { prompt: "Name a colour.", chosen: "Red.", rejected: "Seven." },
        ]));
        const summary = (stderr: string) => stderr.split("\n").find((line) => line.includes("reward min"));
        const local = await runBuiltCli(["score", input, "-m", tinyModel]);
        const remote = await runBuiltCli(["score", input, "--server", server.url]);
        expect(summary(local.stderr)).toMatch(/reward min .*1 row with an empty response.*1 row with special-token text/);
        expect(summary(remote.stderr)!.replace(/^.*?(; reward min)/, "$1")).toBe(summary(local.stderr)!.replace(/^.*?(; reward min)/, "$1"));
    });
});
