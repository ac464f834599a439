import { fork, type ChildProcess } from "node:child_process";
import type { Token } from "node-llama-cpp";
import { ModelError } from "../errors.js";
import type { Log } from "../log.js";
import { availableCores } from "./availableCores.js";
import { RewardEngine, sharedPrefix, type EngineOptions } from "./rewardEngine.js";
import type { Tokenizer } from "./tokenizer.js";
import type { FromWorker, ToWorker } from "./worker.js";
import { plural } from "../plural.js";

/** What the scorer needs of a model: its vocabulary and template, and rewards. A RewardEngine, or a pool of them. */
export type RewardModel = {
    readonly tokenizer: Tokenizer;
    readonly chatTemplate: string | undefined;
    readonly bosText: string;
    readonly eosText: string;
    readonly description: string;
    /** Conversations evaluated side by side, in all. */
    readonly parallel: number;
    reward(tokens: readonly Token[]): Promise<number>;
    dispose(): Promise<void>;
};

/** `--workers N` (CPU: the cores split between them) or `--gpus` (one worker per device, CUDA_VISIBLE_DEVICES). */
export type WorkersPlan = { count: number; devices?: string[] };

/** The worker's script: built beside this module (run from the TypeScript source, as tests do: the built one). */
const workerScript = import.meta.url.endsWith(".ts") ? new URL("../../dist/src/engine/worker.js", import.meta.url) : new URL("./worker.js", import.meta.url);

/** A reward request: sent to a worker, answered once; a worker that dies hands its requests to the others. */
type Request = { id: number; tokens: readonly Token[]; resolve: (reward: number) => void; reject: (error: Error) => void };

type Worker = { name: string; child: ChildProcess; pending: Map<number, Request>; last: readonly Token[]; parallel: number; alive: boolean };

/**
 * Worker processes, each with its own copy of the model, behind the interface of one engine. The run tokenizes (with
 * a vocabulary-only load of the model) and sends token lists; each goes to the worker that holds the longest prefix
 * of it (the responses of one prompt follow each other there, reusing its KV cache), else to the least busy one.
 * Rewards do not depend on which worker or which neighbours a row had (tests: bit-identical alone, after rows sharing
 * its prompt, in any order), so the output is byte for byte one process's. A worker that dies (killed, out of memory)
 * is reported once, and its rows go to the others; when none is left, the run stops with an error and can be resumed.
 */
export class WorkerPool implements RewardModel {
    private nextId = 0;

    private constructor(private readonly vocabulary: RewardEngine, private readonly workers: Worker[], private readonly log: Log, readonly description: string) {}

    static async start(options: EngineOptions, plan: WorkersPlan, log: Log): Promise<WorkerPool> {
        const vocabulary = await RewardEngine.load({ ...options, gpu: "cpu", vocabOnly: true }, log);
        const share = Math.max(1, Math.floor(availableCores() / plan.count));
        const workers: Worker[] = [];
        try {
            const ready = await Promise.all(Array.from({ length: plan.count }, async (_, k) => {
                const device = plan.devices?.[k];
                const child = fork(workerScript, [], {
                    serialization: "advanced",
                    stdio: ["ignore", "ignore", "inherit", "ipc"],
                    env: {
                        ...process.env,
                        ...(device !== undefined ? { CUDA_VISIBLE_DEVICES: device } : {}),
                        ...(options.verbose ? { NEMOREWARD_VERBOSE: "1" } : {}),
                    },
                });
                child.on("error", () => undefined); // a send to a worker that just died: its exit hands its rows on
                const worker: Worker = { name: device === undefined ? `worker ${k}` : `worker ${k} (GPU ${device})`, child, pending: new Map(), last: [], parallel: 1, alive: true };
                workers.push(worker);
                const workerOptions: EngineOptions = {
                    ...options,
                    // CPU workers split the cores: auto is this worker's share, a number is per worker
                    threads: options.threads === "auto" ? share : options.threads,
                    ...(device !== undefined && options.gpu === "auto" ? { gpu: "cuda" } : {}),
                };
                return new Promise<{ description: string }>((resolve, reject) => {
                    const failed = (why: string) => reject(new ModelError(`${worker.name} could not load the model: ${why}`));
                    child.once("exit", (code, signal) => failed(`it exited (${signal ?? `code ${code}`})`));
                    child.once("message", (message: FromWorker) => {
                        child.removeAllListeners("exit");
                        if (message.type === "ready") {
                            worker.parallel = message.parallel;
                            resolve({ description: message.description });
                        } else failed(message.type === "failed" ? message.message : "it answered out of turn");
                    });
                    child.send({ type: "load", options: workerOptions } satisfies ToWorker);
                });
            }));
            const pool = new WorkerPool(vocabulary, workers, log, `${plural(plan.count, "worker")}${plan.devices !== undefined ? ` on GPUs ${plan.devices.join(",")}` : ""}, each: ${ready[0]!.description}`);
            for (const worker of workers) pool.listen(worker);
            return pool;
        } catch (error) {
            for (const worker of workers) worker.child.kill("SIGKILL");
            await vocabulary.dispose();
            throw error;
        }
    }

    get tokenizer(): Tokenizer {
        return this.vocabulary.tokenizer;
    }

    get chatTemplate(): string | undefined {
        return this.vocabulary.chatTemplate;
    }

    get bosText(): string {
        return this.vocabulary.bosText;
    }

    get eosText(): string {
        return this.vocabulary.eosText;
    }

    get parallel(): number {
        return this.workers.reduce((sum, worker) => sum + (worker.alive ? worker.parallel : 0), 0);
    }

    reward(tokens: readonly Token[]): Promise<number> {
        return new Promise((resolve, reject) => this.dispatch({ id: this.nextId++, tokens, resolve, reject }));
    }

    async dispose(): Promise<void> {
        for (const worker of this.workers) {
            worker.alive = false;
            if (worker.child.connected) worker.child.disconnect();
        }
        await Promise.all(this.workers.map((worker) => worker.child.exitCode !== null || worker.child.signalCode !== null
            ? undefined : new Promise((resolve) => worker.child.once("exit", resolve))));
        await this.vocabulary.dispose();
    }

    /** To the worker holding most of the row's prefix when that is most of the row, else to the least busy. */
    private dispatch(request: Request): void {
        const alive = this.workers.filter((worker) => worker.alive);
        if (alive.length === 0) {
            request.reject(new ModelError("every worker has died: nothing more can be scored (resume the run with --resume)"));
            return;
        }
        const shared = alive.map((worker) => sharedPrefix(worker.last, request.tokens));
        const holder = shared.indexOf(Math.max(...shared));
        const load = (worker: Worker) => worker.pending.size / worker.parallel;
        const chosen = shared[holder]! * 2 >= request.tokens.length ? alive[holder]! : alive.reduce((a, b) => (load(b) < load(a) ? b : a));
        chosen.last = request.tokens;
        chosen.pending.set(request.id, request);
        chosen.child.send({ type: "reward", id: request.id, tokens: Uint32Array.from(request.tokens as readonly number[]) } satisfies ToWorker);
    }

    private listen(worker: Worker): void {
        worker.child.on("message", (message: FromWorker) => {
            if (message.type !== "reward" && message.type !== "error") return;
            const request = worker.pending.get(message.id);
            if (request === undefined) return;
            worker.pending.delete(message.id);
            if (message.type === "reward") request.resolve(message.reward);
            else request.reject(new ModelError(`${worker.name}: ${message.message}`));
        });
        worker.child.on("exit", (code, signal) => {
            if (!worker.alive) return;
            worker.alive = false;
            const orphans = [...worker.pending.values()];
            worker.pending.clear();
            const left = this.workers.filter((w) => w.alive).length;
            this.log.warn(`${worker.name} died (${signal ?? `exit code ${code}`})${left > 0 ? `: its ${plural(orphans.length, "row")} in flight go to the ${left} left` : ""}`);
            for (const request of orphans) this.dispatch(request);
        });
    }
}

/** Every CUDA device this process sees (`--gpus all`), as CUDA_VISIBLE_DEVICES numbers them. */
export async function cudaDevices(log: Log): Promise<string[]> {
    const { getLlama } = await import("node-llama-cpp");
    let names: string[] = [];
    try {
        const llama = await getLlama({ gpu: "cuda", build: "never", progressLogs: false, logger: (_, message) => log.engine(message) });
        names = await llama.getGpuDeviceNames();
        await llama.dispose();
    } catch (error) {
        throw new ModelError(`--gpus all: CUDA cannot start here (${(error as Error).message}); give --workers N for CPU workers`, { cause: error });
    }
    if (names.length === 0) throw new ModelError("--gpus all: no CUDA device found");
    // with CUDA_VISIBLE_DEVICES set, CUDA numbers the devices it names from 0
    const visible = process.env["CUDA_VISIBLE_DEVICES"]?.split(",").map((id) => id.trim()).filter(Boolean);
    return names.map((_, k) => visible?.[k] ?? String(k));
}
