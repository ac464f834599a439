import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, Readable } from "node:stream";
import { fileURLToPath } from "node:url";
import { beforeAll, expect } from "vitest";
import { main } from "../src/cli/main.js";
import type { InputFormat } from "../src/formats.js";
import { defaultMaxRecordBytes } from "../src/input/jsonl.js";
import { findInputs, readRows } from "../src/input/sources.js";
import type { InputRow } from "../src/records/row.js";
import { ChatTemplate } from "../src/template/chatTemplate.js";
import { llama31Template } from "../src/template/llama31Template.js";
import { loadReferenceModel, type ReferenceModel } from "./reference/referenceModel.js";

export const repoRoot = fileURLToPath(new URL("..", import.meta.url));
export const tinyModel = fileURLToPath(new URL("../fixtures/models/tiny-reward.gguf", import.meta.url));
export const demoConversations = fileURLToPath(new URL("../fixtures/conversations.jsonl", import.meta.url));
/** The built CLI, as `node` runs it. */
export const cli = `${repoRoot}bin/nemoreward.js`;

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
export function runBuiltCli(args: string[], stdin?: string, env?: Record<string, string>): Promise<CliResult> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [cli, ...args], { cwd: repoRoot, ...(env !== undefined ? { env: { ...process.env, ...env } } : {}) });
        let stdout = "", stderr = "";
        child.stdout.on("data", (c) => (stdout += c));
        child.stderr.on("data", (c) => (stderr += c));
        child.on("error", reject);
        child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
        if (stdin === undefined) child.stdin.end();
        else child.stdin.end(stdin);
    });
}

/** A run of `score -` (the demo conversations) that reads a pipe the test holds open, so that it surely holds its outputs while the others start. */
export function heldRun(args: string[]): { child: ChildProcess; finish: () => Promise<{ code: number | null; stderr: string }> } {
    const demoLines = readFileSync(demoConversations, "utf8").split(/(?<=\n)/);
    const child = spawn(process.execPath, [cli, "score", "-", "-m", tinyModel, "-q", ...args], { stdio: ["pipe", "ignore", "pipe"] });
    let stderr = "";
    child.stderr!.on("data", (c) => (stderr += c));
    const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
    child.stdin!.write(demoLines.slice(0, 2).join(""));
    return {
        child,
        finish: async () => {
            child.stdin!.end(demoLines.slice(2).join(""));
            return { code: await exit, stderr };
        },
    };
}

/** Resolves once `path` exists (the held run has claimed its output: its lock; or opened it: the file). */
export async function claimed(path: string): Promise<void> {
    for (let i = 0; i < 2000 && !existsSync(path); i++) await new Promise((resolve) => setTimeout(resolve, 10));
}

/** Resolves with the exit status, or with a note when the process is still running after `seconds`. */
export function exitWithin(child: ChildProcess, seconds: number): Promise<number | string | null> {
    return new Promise((resolve) => {
        const timer = setTimeout(() => resolve(`still running ${seconds} s later`), seconds * 1000);
        child.on("exit", (code) => {
            clearTimeout(timer);
            resolve(code);
        });
    });
}

/** Resolves once `test` holds for the text so far of `stream`, or after `seconds` anyway. */
export function waitForText(stream: NodeJS.ReadableStream, test: (text: string) => boolean, seconds: number): Promise<void> {
    return new Promise((resolve) => {
        let text = "";
        const timer = setTimeout(resolve, seconds * 1000);
        stream.on("data", (c: Buffer) => {
            text += c.toString();
            if (test(text)) {
                clearTimeout(timer);
                resolve();
            }
        });
    });
}

/** The long options that `nemoreward COMMAND --help` offers. */
export async function offered(command: string): Promise<string[]> {
    const { code, stdout } = await runInProcess([command, "--help"]);
    expect(code).toBe(0);
    return [...stdout.matchAll(/^\s+(?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]!);
}

/** Parses stdout as JSONL, failing on any line that is not a JSON object. */
export function parseJsonl(text: string): Record<string, any>[] {
    return text.split("\n").filter((l) => l !== "").map((l) => {
        const v = JSON.parse(l);
        if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`not an object: ${l}`);
        return v;
    });
}

/** The records as JSON Lines. */
export const jsonl = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

/** The non-empty lines of a run's stderr. */
export const stderrLines = (stderr: string) => stderr.split("\n").filter((l) => l !== "");

/** The rows the readers give for these bytes as standard input (small chunks: records, strings and UTF-8 characters split across reads). */
export async function readBytes(bytes: Buffer | string | Iterable<Buffer> | AsyncIterable<Buffer>, format: InputFormat,
    { chunkSize = 7, maxRecordBytes = defaultMaxRecordBytes, warn = () => undefined }: { chunkSize?: number; maxRecordBytes?: number; warn?: (message: string) => void } = {}): Promise<InputRow[]> {
    let stdin: Readable;
    if (typeof bytes === "string" || Buffer.isBuffer(bytes)) {
        const all = Buffer.from(bytes);
        stdin = Readable.from(Array.from({ length: Math.ceil(all.length / chunkSize) }, (_, i) => all.subarray(i * chunkSize, (i + 1) * chunkSize)));
    } else stdin = Readable.from(bytes);
    const out: InputRow[] = [];
    for await (const row of readRows([{ path: "-", format }], { stdin, maxRecordBytes, warn, formatGiven: true })) out.push(row);
    return out;
}

/** The rows the readers give for a file. */
export async function readFile(path: string, format?: InputFormat): Promise<InputRow[]> {
    const out: InputRow[] = [];
    for await (const row of readRows(findInputs([path], format), { stdin: Readable.from([]), maxRecordBytes: defaultMaxRecordBytes, warn: () => undefined, formatGiven: format !== undefined })) out.push(row);
    return out;
}

/** A new empty folder in the system's temporary folder. */
export const newDir = (name: string) => mkdtempSync(join(tmpdir(), `nemoreward-${name}-`));

/** Every file of a folder with its bytes. */
export const snapshot = (folder: string) => Object.fromEntries(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name)).toString("base64")]));

/** Best-of-3 style data: runs of rows sharing a prompt, so that prefix reuse is at work across rows. */
export function dataset(rows: number): string {
    const words = "alpha beta gamma delta epsilon zeta eta theta iota kappa".split(" ");
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648;
    const text = (n: number) => Array.from({ length: n }, () => words[Math.floor(random() * words.length)]).join(" ");
    let prompt = "";
    return Array.from({ length: rows }, (_, i) => {
        if (i % 3 === 0) prompt = text(20);
        return JSON.stringify({ id: i, prompt, response: text(5 + Math.floor(random() * 30)) });
    }).join("\n") + "\n";
}

/** What `score INPUT -q` writes when nothing interrupts it: run by the built CLI on the first call, remembered for the next. */
export function uninterruptedOutput(input: string): () => Promise<string> {
    let stdout: string | undefined;
    return async () => {
        if (stdout === undefined) {
            const run = await runBuiltCli(["score", input, "-m", tinyModel, "-q"]);
            expect(run.code).toBe(0);
            stdout = run.stdout;
        }
        return stdout;
    };
}

/** Writes a Parquet file with DuckDB, an independent writer (loaded on first use: most tests never need it). */
export async function duckParquet(path: string, select: string, options = ""): Promise<string> {
    const { duck } = await import("./duckdb.js");
    await duck(`COPY (${select}) TO '${path}' (FORMAT parquet${options})`);
    return path;
}

const llama31 = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });

/** Five JSONL rows of one prompt, the third of which cannot be read: a group the unreadable row must not split. */
export const groupWithUnreadableRow = [
    JSON.stringify({ prompt: "Name a colour.", response: "Red." }),
    JSON.stringify({ prompt: "Name a colour.", response: "Blue, the colour of the sky." }),
    '{"prompt": "Name a colour.", "response": ',
    JSON.stringify({ prompt: "Name a colour.", response: "Green" }),
    JSON.stringify({ prompt: "Name a colour.", response: "I would rather not." }),
].join("\n") + "\n";

/** The float64 reference model of the tiny model, loaded before a test file's tests: its reward for a prompt and response. */
export function referenceRewards(): (prompt: string, response: string) => number {
    let reference: ReferenceModel;
    beforeAll(async () => {
        reference = await loadReferenceModel(tinyModel);
    });
    return (prompt, response) => referenceReward(reference, prompt, response);
}

/** The float64 reference's reward for a user prompt and the assistant's response, rendered with the Llama 3.1 template. */
export function referenceReward(reference: ReferenceModel, prompt: string, response: string): number {
    return reference.logits(reference.tokenize(llama31.render([{ role: "user", content: prompt }, { role: "assistant", content: response }])), [0])[0]!;
}
