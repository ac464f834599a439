import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { apiWords } from "../../src/serve/apiWords.js";
import { jsonl, newDir, runBuiltCli, tinyModel } from "../helpers.js";
import { post, serve, type Served } from "./serveHelpers.js";

describe("serve's messages name the request's body fields, not score's options", () => {
    it("apiWords: options and their values, shell-quoted or not", () => {
        expect(apiWords(`try --prompt-field question --response-field 'it'\\''s'`)).toBe(`try "prompt_field": "question" "response_field": "it's"`);
        expect(apiWords("over the 16-token context (--context-size)")).toBe(`over the 16-token context ("context_size")`);
        expect(apiWords("as plain text (--content-special text)")).toBe(`as plain text ("content_special": "text")`);
    });

    let server: Served;
    beforeAll(async () => {
        server = await serve();
    });
    afterAll(async () => {
        await server.stop();
    });

    const records = [{ question: "What is 1+1?", answer: "2" }, { prompt: "What is 1+1? ".repeat(20), response: "2" }];

    it("POST /v1/score: a row's error names prompt_field and context_size", async () => {
        const answer = await post(`${server.url}/v1/score`, { records, context_size: 16 });
        expect(answer.status).toBe(200);
        const [fields, over] = answer.body.results;
        expect(fields.error).toMatch(/"prompt_field": "question"/);
        expect(over.error).toMatch(/\("context_size"\)/);
        expect(answer.text).not.toMatch(/--prompt-field|--context-size/);
    });

    it("score --server still writes score's own words: the local run's bytes", async () => {
        const input = join(newDir("api-words"), "rows.jsonl");
        writeFileSync(input, jsonl(records));
        const local = await runBuiltCli(["score", input, "-m", tinyModel, "--context-size", "16", "-q"]);
        const remote = await runBuiltCli(["score", input, "--server", server.url, "--context-size", "16", "-q"]);
        expect(local.stdout).toMatch(/--prompt-field question/);
        expect(remote.stdout).toBe(local.stdout);
    });
});
