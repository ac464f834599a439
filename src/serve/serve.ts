import { templateDigest } from "../plan/resumeSettings.js";
import type { AddressInfo } from "node:net";
import { basename } from "node:path";
import { exitCodes, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { createLog } from "../log.js";
import { findModel } from "../model/findModel.js";
import type { Flags } from "../plan/flags.js";
import { engineSetup, readTemplate } from "../plan/plan.js";
import { modelIdentity } from "../plan/resumeSettings.js";
import { defaultContextSize } from "../plan/flags.js";
import { loadModel } from "../run/run.js";
import { loadTemplate } from "../template/loadTemplate.js";
import { createServer } from "./server.js";

/** `serve`'s own options, beside the engine's. */
export type ServeFlags = Flags & {
    host: string; port: number; apiKey?: string; insecureNoAuth?: boolean;
    maxBodyMb: number; maxRows: number; maxQueue: number; requestTimeout: number;
};

/** Whether an address is this machine's loopback: no one else can reach it. */
export function isLoopback(host: string): boolean {
    return host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/**
 * `nemoreward serve`: checks the options, listens (GET /health answers "loading" meanwhile), loads the model once,
 * then serves until asked to stop. The first stop request (SIGTERM, SIGINT) stops taking requests and answers those
 * in flight, then exits 0; a second one ends the process at once (the supervisor, signals.ts). The bound address goes
 * to stderr, as `nemoreward: listening on http://HOST:PORT`; stdout stays empty.
 */
export async function runServe(flags: ServeFlags, io: CliIo): Promise<number> {
    const log = createLog(io.stderr, { quiet: flags.quiet === true, verbose: flags.verbose === true });
    if (flags.apiKey !== undefined && flags.apiKey.trim() === "") throw new UsageError("--api-key is blank: give a key (or leave --api-key out)");
    const apiKey = flags.apiKey ?? ((io.env ?? process.env)["NEMOREWARD_API_KEY"] || undefined);
    if (!isLoopback(flags.host) && apiKey === undefined && flags.insecureNoAuth !== true)
        throw new UsageError(`--host ${flags.host} lets other machines in: give --api-key KEY (or $NEMOREWARD_API_KEY), or --insecure-no-auth to serve anyone who can reach it`);
    if (apiKey !== undefined && flags.insecureNoAuth === true) throw new UsageError("--insecure-no-auth and an API key contradict each other: give one");
    const modelPath = findModel(flags.model);
    const contextSize = flags.contextSize ?? defaultContextSize;
    const setup = engineSetup(flags, modelPath, contextSize);
    const engine = setup.engine;
    const templateSource = readTemplate(flags.chatTemplate);
    const server = createServer({
        contextSize,
        bodyLimit: flags.maxBodyMb * 1024 * 1024,
        maxRows: flags.maxRows,
        queueLimit: flags.maxQueue,
        requestTimeoutMs: Math.max(1, Math.round(flags.requestTimeout * 1000)),
        ...(apiKey !== undefined ? { apiKey } : {}),
    });
    const address = await server.app.listen({ host: flags.host, port: flags.port });
    try {
        // the one line tests and scripts read to find the server (port 0: the port the system gave), whatever -q says
        io.stderr.write(`nemoreward: listening on ${boundUrl(server.app.server.address(), address)}\n`);
        const model = await loadModel(setup, log);
        try {
            const template = loadTemplate(model, templateSource, log);
            log.info(model.description);
            // what a resumed `score --server` run checks: the model file as a local run names it, and a template of its own
            const identity = modelIdentity(modelPath) + (templateSource === undefined ? "" : `, chat template ${templateDigest(templateSource)}`);
            server.ready({ model, template, name: basename(modelPath).replace(/\.gguf$/, ""), identity,
                engine: { precise: engine.precise, flashAttention: engine.flashAttention ?? false, rewardToken: engine.rewardToken } });
            io.stderr.write(`nemoreward: ready: ${basename(modelPath)} at ${address}\n`);
            await stopped(io.signal);
            log.info("stopping: no new requests; answering those in flight");
            await server.close();
            log.info("stopped");
            return exitCodes.ok;
        } finally {
            await model.dispose();
        }
    } finally {
        await server.close();
    }
}

/** The address the server is bound to, as a URL (0.0.0.0 or :: when bound there: every interface); else fastify's. */
function boundUrl(bound: string | AddressInfo | null, address: string): string {
    if (bound === null || typeof bound === "string") return address;
    return `http://${bound.family === "IPv6" ? `[${bound.address}]` : bound.address}:${bound.port}`;
}

/** Resolves when the run is asked to stop (never, without a signal). */
function stopped(signal: AbortSignal | undefined): Promise<void> {
    return new Promise((resolve) => {
        if (signal?.aborted) resolve();
        signal?.addEventListener("abort", () => resolve(), { once: true });
    });
}
