import { PassThrough, Readable } from "node:stream";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { main } from "../src/cli/main.js";
import type { InputFormat } from "../src/formats.js";
import { defaultMaxRecordBytes } from "../src/input/jsonl.js";
import { findInputs, readRows } from "../src/input/sources.js";
import type { InputRow } from "../src/records/row.js";

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
