import { PassThrough, Readable } from "node:stream";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.js";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const tinyModel = fileURLToPath(new URL("../fixtures/models/tiny-reward.gguf", import.meta.url));
export const demoConversations = fileURLToPath(new URL("../fixtures/conversations.jsonl", import.meta.url));

export type CliResult = { code: number; stdout: string; stderr: string };

function collect(stream: PassThrough): () => string {
    const chunks: Buffer[] = [];
    stream.on("data", (c: Buffer) => chunks.push(Buffer.from(c)));
    return () => Buffer.concat(chunks).toString("utf8");
}

/** Runs the command line in this process with the given standard input. */
export async function runInProcess(args: string[], stdin = ""): Promise<CliResult> {
    const stdout = new PassThrough(), stderr = new PassThrough();
    const out = collect(stdout), err = collect(stderr);
    const code = await main(["node", "nemoreward", ...args], {
        stdin: Readable.from([stdin]),
        stdout,
        stderr,
        stdinIsTTY: false,
    });
    return { code, stdout: out(), stderr: err() };
}

/** Spawns the built CLI (`bin/nemoreward.js`), as a user's shell would. */
export function runBuiltCli(args: string[], stdin?: string): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { cwd: repoRoot });
        let stdout = "", stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        if (stdin === undefined) child.stdin.end();
        else child.stdin.end(stdin);
    });
}

/** Parses stdout as JSONL, failing on any line that is not a JSON object. */
export function parseJsonl(text: string): Record<string, any>[] {
    return text.split("\n").filter((l) => l !== "").map((l) => {
        const v = JSON.parse(l);
        if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`not an object: ${l}`);
        return v;
    });
}
