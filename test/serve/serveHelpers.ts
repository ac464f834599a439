import { spawn, type ChildProcess } from "node:child_process";
import { connect, type Socket } from "node:net";
import { cli, repoRoot, tinyModel } from "../helpers.js";

export type Served = { url: string; child: ChildProcess; stderr: () => string; exit: Promise<number | null>; stop: () => Promise<number | null> };

/** `nemoreward serve` on a free port, once it says it is ready (or rejects with its stderr when it exits first). */
export function serve(args: string[] = [], env: Record<string, string> = {}): Promise<Served> {
    const child = spawn(process.execPath, [cli, "serve", "-m", tinyModel, "--port", "0", ...args], { cwd: repoRoot, env: { ...process.env, ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stderr = "";
    const exit = new Promise<number | null>((resolve) => child.on("exit", resolve));
    return new Promise((resolve, reject) => {
        child.stderr!.on("data", (c) => {
            stderr += c;
            const ready = /ready: .* at (http:\/\/\S+)/.exec(stderr);
            if (ready !== null) resolve({
                url: ready[1]!, child, stderr: () => stderr, exit,
                stop: async () => {
                    child.kill("SIGTERM");
                    return exit;
                },
            });
        });
        void exit.then((code) => reject(new Error(`serve exited ${code} before it was ready: ${stderr}`)));
    });
}

/** POSTs JSON (or text) and returns the status, headers and parsed body. */
export async function post(url: string, body: unknown, headers: Record<string, string> = {}): Promise<{ status: number; headers: Headers; body: any; text: string }> {
    const response = await fetch(url, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: typeof body === "string" ? body : JSON.stringify(body) });
    const text = await response.text();
    let parsed: unknown;
    try {
        parsed = JSON.parse(text);
    } catch {
        parsed = undefined;
    }
    return { status: response.status, headers: response.headers, body: parsed, text };
}

/** A raw HTTP/1.1 connection: the test decides when each byte of the request goes. */
export function rawRequest(url: string, path: string, body: string, extra = ""): { socket: Socket; send: (text: string) => void; answer: Promise<string>; head: string } {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    let text = "";
    socket.on("data", (c) => (text += c));
    const answer = new Promise<string>((resolve) => {
        socket.on("close", () => resolve(text));
        socket.on("error", () => resolve(text));
    });
    const head = `POST ${path} HTTP/1.1\r\nHost: ${hostname}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n${extra}\r\n`;
    socket.write(head);
    return { socket, send: (t: string) => socket.write(t), answer, head };
}

/** The status of a raw HTTP answer. */
export function status(text: string): number {
    return Number(/^HTTP\/1\.1 (\d+)/.exec(text)?.[1]);
}
