import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { jsonl, parseJsonl, runBuiltCli, tinyModel } from "../helpers.js";
import { readmeBlock } from "../cluster/readme.js";
import { serve, type Served } from "./serveHelpers.js";

describe("the README's curl examples (Serving)", () => {
    let server: Served;
    beforeAll(async () => {
        server = await serve();
    });
    afterAll(async () => {
        await server.stop();
    });

    it("each command runs against a server of the test model, and its rewards are score's", async () => {
        // one command per line, its continuation lines joined; the README's address replaced by the test server's
        const commands = readmeBlock("serve-curl").replace(/\\\n\s*/g, "").split("\n").filter((line) => line.trim() !== "")
            .map((line) => line.replaceAll("http://127.0.0.1:8000", server.url));
        expect(commands.every((command) => command.startsWith("curl "))).toBe(true);
        const [health, scored, chat, reward, metrics] = commands.map((command) => execFileSync("bash", ["-c", command], { encoding: "utf8" }));
        const local = parseJsonl((await runBuiltCli(["score", "-", "-m", tinyModel, "-q"], jsonl([
            { prompt: "What is 1+1?", response: "1+1=2" }, { prompt: "What is 1+1?", response: "1+1=3" },
        ]))).stdout).map((row) => row["reward"] as number);
        expect(JSON.parse(health!)).toEqual({ status: "ready", model: "tiny-reward" });
        expect(JSON.parse(scored!).results).toEqual(local.map((reward) => ({ reward })));
        expect(JSON.parse(chat!).choices[0].message.content).toBe(`reward:${local[0]}`);
        expect(JSON.parse(reward!)).toEqual({ rewards: [local[0]], scores: [local[0]] });
        expect(metrics).toMatch(/^nemoreward_rows_total 4\n$/);
    });
});
