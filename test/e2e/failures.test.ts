import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { tinySpec, writeModel } from "../../fixtures/makeModel.js";
import { demoConversations, parseJsonl, runBuiltCli, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-failures-"));

describe("nemoreward score (built CLI)", () => {
    it("fails with exit 1 and one clear line when the model cannot be loaded", async () => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", demoConversations]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/is not a readable GGUF model/);
        expect(stderr).not.toMatch(/\n\s+at /);
    });
});

describe("broken models: one clear line on stderr, exit 1, no stack trace", () => {
    const broken = (name: string, bytes: Buffer | string) => {
        const path = join(tmp, name);
        writeFileSync(path, bytes);
        return path;
    };
    const writeSpec = (name: string, spec: Partial<typeof tinySpec> & Record<string, unknown>) => {
        const path = join(tmp, name);
        writeModel(path, { ...tinySpec, ...spec });
        return path;
    };
    it.each([
        ["missing", () => join(tmp, "nope.gguf"), /model file not found/],
        ["truncated", () => broken("truncated.gguf", readFileSync(tinyModel).subarray(0, 200_000)), /corrupted or incomplete/],
        ["not GGUF", () => broken("text.gguf", "hello, world\n"), /not a readable GGUF model/],
        ["not llama", () => writeSpec("bert.gguf", { architecture: "bert" }), /is a "bert" model/],
        ["a template that raises", () => writeSpec("raises.gguf", { chatTemplate: "{{ raise_exception('no thanks') }}" }), /no thanks/],
    ])("%s", async (_name, model, message) => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", model()]);
        expect(code).toBe(1);
        expect(stderr).toMatch(message);
        expect(stderr.trim().split("\n")).toHaveLength(1);
    });

    it("a reward token outside the vocabulary", async () => {
        const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "--reward-token", "5000"]);
        expect(code).toBe(1);
        expect(stderr).toMatch(/reward token 5000 is outside the model's 267-token vocabulary/);
    });

    it("a model without a chat template: one warning, the Llama 3.1 template, the same rewards", async () => {
        const bare = writeSpec("no-template.gguf", { chatTemplate: null });
        const withTemplate = await runInProcess(["score", demoConversations, "-m", tinyModel]);
        const without = await runInProcess(["score", demoConversations, "-m", bare]);
        expect(without.code).toBe(0);
        expect(without.stderr.match(/no chat template; using the Llama 3.1 template/g)).toHaveLength(1);
        expect(parseJsonl(without.stdout)).toEqual(parseJsonl(withTemplate.stdout));
    });
});

// Parquet is written in one go at the end, JSON's last bytes too: a write that fails last is as much an error as the first
it.each(["jsonl", "json", "parquet", "csv"])("a full disk (%s): one clear line on stderr and exit 1, not a crash", async (format) => {
    const { code, stderr } = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-q", "-o", "/dev/full", "--format", format]);
    expect(code).toBe(1);
    expect(stderr.trim()).toMatch(/^nemoreward: error: cannot write \/dev\/full: ENOSPC/);
    expect(stderr.trim().split("\n")).toHaveLength(1);
});

describe("chat templates from a GGUF are untrusted", () => {
    it.each([
        "{{ process.env.NEMOREWARD_SECRET }}",
        "{{ ''.constructor.constructor('return process.env.NEMOREWARD_SECRET')() }}",
        "{{ messages.constructor.constructor('return process')().env.NEMOREWARD_SECRET }}",
        "{{ cycler.__init__.__globals__.os.environ.NEMOREWARD_SECRET }}",
        "{% include '/etc/hostname' %}{{ self._TemplateReference__context }}",
        "{{ range.constructor('return require(\"fs\").readFileSync(\"/etc/hostname\", \"utf8\")')() }}",
    ])("%s reads neither the environment nor files", async (template) => {
        const file = join(tmp, "hostile.jinja");
        writeFileSync(file, `{{ bos_token }}${template}{% for m in messages %}{{ m.content }}{% endfor %}`);
        process.env["NEMOREWARD_SECRET"] = "s3cr3t-value";
        try {
            const { stdout, stderr } = await runInProcess(["render", demoConversations, "-m", tinyModel, "--chat-template", file]);
            const hostname = readFileSync("/etc/hostname", "utf8").trim();
            expect(stdout + stderr).not.toContain("s3cr3t-value");
            if (hostname.length > 3) expect(stdout).not.toContain(hostname);
        } finally {
            delete process.env["NEMOREWARD_SECRET"];
        }
    });
});
