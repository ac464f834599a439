import {
    getLlama,
    LlamaLogLevel,
    type Llama,
    type LlamaContext,
    type LlamaContextSequence,
    type LlamaModel,
    type Token,
    type ControlledEvaluateInputItem,
} from "node-llama-cpp";
import { readGguf } from "../model/readGguf.js";
import { ModelError } from "../errors.js";
import { Tokenizer } from "./tokenizer.js";
import { availableCores } from "./availableCores.js";
import { buildInProgress } from "./localBuild.js";
import { cpuSample, followFreeCores } from "./freeCores.js";
import type { Log } from "../log.js";
import { plural } from "../plural.js";

/**
 * The fewest tokens in one batch of a row, unless the whole row is shorter. llama.cpp picks kernels by batch size:
 * on the CPU, flash attention takes a per-row kernel below 64 tokens (it moved a reward by 9e-3 when a row's last
 * 14 tokens came in a batch of their own), and CUDA has small-batch kernels up to 8 tokens. With every batch at
 * least this large, a reward was bit-identical however its row was split (whole, in 512s, in 64s, after a reused
 * prefix), with flash attention on and off, so that it does not depend on the rows scored before it.
 */
const minimumBatch = 64;

/** Sequences per context on a GPU with `--parallel auto`; bench/gpu.sh measures 1, 4 and 16. */
const defaultGpuParallel = 8;

export type GpuChoice = "auto" | "cuda" | "vulkan" | "cpu";
export type GpuLayers = number | "max" | "auto";

export type EngineOptions = {
    modelPath: string;
    gpu: GpuChoice;
    gpuLayers: GpuLayers;
    /**
     * "auto": the available cores that other processes leave free, re-counted while running; a number is the most,
     * backed off the same way (llama.cpp's threads spin: two on a core another process holds run many times slower).
     */
    threads: number | "auto";
    /** With a number of threads: exactly that many, even while other processes keep cores busy. */
    fixedThreads?: boolean;
    contextSize: number;
    /** Sequences evaluated side by side in one context; "auto" picks what the benchmarks found fastest. */
    parallel: number | "auto";
    /** f32 KV cache: slower, and within float error of an exact forward pass. */
    precise: boolean;
    rewardToken: number;
    /** Faster attention on long rows, at the cost of rewards that depend on how rows were batched. */
    flashAttention?: boolean;
    /** Keep the KV cache of a prefix shared with the sequence's previous conversation. */
    reuse: boolean;
    /** Load only the vocabulary (for rendering and counting tokens). */
    vocabOnly?: boolean;
    verbose?: boolean;
};

/** Whether the threads follow the free cores (auto, and a number as a ceiling), or stay at a fixed number. */
export function followsFreeCores(options: Pick<EngineOptions, "threads" | "fixedThreads">): boolean {
    return options.threads === "auto" || options.fixedThreads !== true;
}

/** A loaded reward model: tokenizes conversations and rates them with the logit of the reward token. */
export class RewardEngine {
    private readonly slots: Slot[];
    /** Rows waiting for any sequence to come free. */
    private readonly waiting: (() => void)[] = [];
    /** Rendered text to tokens, as llama.cpp does it but in linear time; stops early past a limit. */
    readonly tokenizer: Tokenizer;
    /** Stops following the free cores (`threads: "auto"`). */
    private readonly stopThreads: () => void;
    /** The most tokens the context evaluates at once. */
    private readonly batchSize: number;

    private constructor(
        private readonly llama: Llama,
        readonly model: LlamaModel,
        context: LlamaContext | undefined,
        private readonly options: EngineOptions,
        /** Sequences in the context: conversations evaluated side by side. */
        readonly parallel: number,
        /** The most threads used. */
        private readonly maxThreads: number,
        loadStarted: ReturnType<typeof cpuSample>,
    ) {
        this.tokenizer = new Tokenizer(model);
        this.batchSize = context?.batchSize ?? 0;
        this.stopThreads = followsFreeCores(options) && context !== undefined
            ? followFreeCores(maxThreads, (threads) => { llama.maxThreads = threads; }, { since: loadStarted }).stop
            : () => {};
        this.slots = context === undefined ? [] : Array.from({ length: parallel }, () =>
            ({ sequence: context.getSequence(), busy: false, tokens: [], waiting: [] }));
    }

    /** Starts the backend, loads the model and creates the scoring context. */
    static async load(options: EngineOptions, log: Log): Promise<RewardEngine> {
        const loadStarted = cpuSample();
        await checkModelFile(options.modelPath);
        engineErrors.length = 0;
        const maxThreads = options.threads === "auto" ? availableCores() : options.threads;
        const llama = await startBackend(maxThreads, options, log);
        let model: LlamaModel;
        try {
            model = await llama.loadModel({
                modelPath: options.modelPath,
                gpuLayers: options.gpu === "cpu" ? 0 : options.gpuLayers,
                vocabOnly: options.vocabOnly ?? false,
            });
        } catch (error) {
            await llama.dispose();
            throw new ModelError(`cannot load model ${options.modelPath}: ${engineErrors.at(0) ?? (error as Error).message}`, { cause: error });
        }
        if (options.vocabOnly) return new RewardEngine(llama, model, undefined, options, 1, maxThreads, loadStarted);
        const vocabSize = model.fileInfo.metadata.tokenizer?.ggml?.tokens?.length;
        if (vocabSize !== undefined && options.rewardToken >= vocabSize) {
            await llama.dispose();
            throw new ModelError(`reward token ${options.rewardToken} is outside the model's ${vocabSize}-token vocabulary`);
        }
        // On CPU the decode is compute-bound: batching sequences together measured slower (bench/bench.ts).
        const parallel = options.parallel === "auto" ? (llama.gpu === false ? 1 : defaultGpuParallel) : options.parallel;
        let context: LlamaContext;
        try {
            context = await model.createContext({
                contextSize: contextCells(options.contextSize),
                sequences: parallel,
                threads: maxThreads,
                // Off unless asked: further from the exact reward (2.3e-3 against 2.4e-4 on the test model) for a
                // gain that attention does not offer the 70B model (README, Reproducibility).
                flashAttention: options.flashAttention ?? false,
                ...(options.precise ? { experimentalKvCacheKeyType: "F32", experimentalKvCacheValueType: "F32" } : {}),
            });
        } catch (error) {
            await llama.dispose();
            throw new ModelError(`cannot create a ${options.contextSize}-token context: ${(error as Error).message}`, { cause: error });
        }
        return new RewardEngine(llama, model, context, options, parallel, maxThreads, loadStarted);
    }

    /** One line for people: backend, GPU layers, threads, sequences, precision. */
    get description(): string {
        const { threads, precise, flashAttention } = this.options;
        return `${backendName(this.llama)} backend, ${this.model.gpuLayers} of ${this.model.fileInsights.totalLayers} layers on the GPU, ` +
            `${followsFreeCores(this.options) ? `up to ${plural(this.maxThreads, "thread")} (fewer while other processes keep cores busy)` : `${plural(this.maxThreads, "thread")} (fixed)`}, ` +
            `${plural(this.parallel, "sequence")}` +
            `${precise ? ", precise (f32 KV cache)" : ""}${flashAttention ? ", flash attention" : ""}${cpuEngineNote(this.llama)}`;
    }

    /** The chat template embedded in the GGUF, if any. */
    get chatTemplate(): string | undefined {
        return this.model.fileInfo.metadata.tokenizer?.chat_template;
    }

    get bosText(): string {
        return this.model.tokens.bosString ?? "";
    }

    get eosText(): string {
        return this.model.tokens.eosString ?? "";
    }

    /** Tokenizes rendered text with special tokens parsed, so that it begins with exactly one BOS. */
    tokenize(text: string): Token[] {
        return this.tokenizer.tokenize(text).tokens!;
    }

    /** The raw logit of the reward token after the last of `tokens`. */
    async reward(tokens: readonly Token[]): Promise<number> {
        const slot = await this.acquire(tokens);
        const { sequence } = slot;
        try {
            // A cached prefix is reused only if its tokens were evaluated in batches of minimumBatch tokens or more:
            // a shorter row was evaluated whole, in one small batch.
            let start = 0;
            if (this.options.reuse && sequence.nextTokenIndex >= minimumBatch)
                start = Math.max(0, Math.min(sequence.compareContextTokens(tokens as Token[]).firstDifferentIndex, tokens.length - minimumBatch));
            if (start < sequence.nextTokenIndex)
                await sequence.eraseContextTokenRanges([{ start, end: sequence.nextTokenIndex }]);
            let results: Awaited<ReturnType<LlamaContextSequence["controlledEvaluate"]>> = [];
            for (const [from, to] of batches(start, tokens.length, this.batchSize)) {
                const input: ControlledEvaluateInputItem[] = tokens.slice(from, to);
                if (to === tokens.length) input[input.length - 1] = [tokens[to - 1]!, {
                    generateNext: { logits: { filter: { tokens: [this.options.rewardToken as Token] } } },
                }];
                results = await sequence.controlledEvaluate(input, { contextShift: { strategy: refuseContextShift } });
            }
            const logit = results.at(-1)?.next.logits?.get(this.options.rewardToken as Token);
            if (logit === undefined) throw new ModelError("the engine returned no logit for the reward token");
            return logit;
        } finally {
            this.release(slot);
        }
    }

    async dispose(): Promise<void> {
        this.stopThreads();
        await this.llama.dispose();
    }

    /**
     * The sequence to evaluate `tokens` on: the one whose tokens share the longest prefix with them. When that
     * prefix is most of the row (the responses of one prompt), the row waits for that sequence rather than
     * evaluating the prompt again elsewhere; otherwise any free sequence will do.
     */
    private async acquire(tokens: readonly Token[]): Promise<Slot> {
        for (;;) {
            let best: Slot | undefined, bestShared = -1;
            for (const slot of this.slots) {
                const shared = this.options.reuse ? sharedPrefix(slot.tokens, tokens) : 0;
                if (shared > bestShared || (shared === bestShared && best?.busy && !slot.busy)) [best, bestShared] = [slot, shared];
            }
            const worthWaiting = bestShared >= minimumBatch && bestShared * 2 >= tokens.length;
            const chosen = !best!.busy ? best : worthWaiting ? undefined : this.slots.find((slot) => !slot.busy);
            if (chosen !== undefined) {
                chosen.busy = true;
                chosen.tokens = tokens;
                return chosen;
            }
            await new Promise<void>((resolve) => (worthWaiting ? best!.waiting : this.waiting).push(resolve));
        }
    }

    private release(slot: Slot): void {
        slot.busy = false;
        // Everyone waiting looks again; rows waiting for this very sequence go first, in their order, so that the
        // responses of one prompt follow each other on it.
        const wake = [...slot.waiting.splice(0), ...this.waiting.splice(0)];
        for (const resolve of wake) resolve();
    }
}

/** One sequence of the context, the tokens it holds (or is evaluating), and the rows waiting for it. */
type Slot = { sequence: LlamaContextSequence; busy: boolean; tokens: readonly Token[]; waiting: (() => void)[] };

/**
 * Splits tokens [from, to) into batches of at most `size` tokens and near-equal length, so that none is smaller than
 * minimumBatch (given to - from >= minimumBatch and size >= 2 * minimumBatch): the tail of a row never comes alone.
 */
export function batches(from: number, to: number, size: number): [number, number][] {
    const count = Math.max(1, Math.ceil((to - from) / size));
    return Array.from({ length: count }, (_, i) => [
        from + Math.floor(((to - from) * i) / count),
        from + Math.floor(((to - from) * (i + 1)) / count),
    ]);
}

/** How many tokens two lists share from their start. */
export function sharedPrefix(a: readonly Token[], b: readonly Token[]): number {
    const n = Math.min(a.length, b.length);
    let i = 0;
    while (i < n && a[i] === b[i]) i++;
    return i;
}

/** Reads the GGUF header first: a file that is not a llama GGUF gets one clear line instead of an engine error. */
async function checkModelFile(path: string): Promise<void> {
    const architecture = (await readGguf(path, { readTensorInfo: false, logWarnings: false })).metadata.general?.architecture;
    if (architecture !== "llama")
        throw new ModelError(`${path} is a "${architecture}" model; nemoreward scores llama-architecture reward models`);
}

/**
 * The cells a sequence needs for rows of up to `contextSize` tokens. node-llama-cpp keeps one cell free (for a
 * generated token): without it, a row of exactly --context-size tokens had its start shifted out before its last
 * token was evaluated, and was scored on the wrong tokens without an error.
 */
export function contextCells(contextSize: number): number {
    return contextSize + 1;
}

/** Rows longer than the context are refused before they reach the engine, so it never drops tokens to make room. */
function refuseContextShift(): never {
    throw new Error("the row does not fit in the context: the engine would have dropped its first tokens");
}

/** Error lines llama.cpp logged in this process, newest last. */
const engineErrors: string[] = [];

async function startBackend(maxThreads: number, options: EngineOptions, log: Log): Promise<Llama> {
    const common = {
        build: "never",
        progressLogs: false,
        maxThreads,
        logLevel: options.verbose ? LlamaLogLevel.warn : LlamaLogLevel.error,
        logger: (level: string, message: string) => {
            // llama.cpp's own error lines say what is wrong with a model; the first one goes into our one-line error
            if (level === "error" && !message.includes("failed to load model")) engineErrors.push(message.trim().replace(/^llama_model_load: error loading model: /, ""));
            log.engine(message);
        },
    } as const;
    // node-llama-cpp looks for the local build before it waits for the lock, so this run gets the prebuilt engine
    if (buildInProgress()) log.info("an engine is being built (nemoreward build): this run waits for the build to end, then uses the prebuilt engine");
    if (options.gpu === "cpu") return getLlama({ ...common, gpu: false });
    if (options.gpu === "auto") return getLlama({ ...common, gpu: { type: "auto", exclude: ["vulkan"] } });
    try {
        return await getLlama({ ...common, gpu: options.gpu });
    } catch (error) {
        // node-llama-cpp says only "NoBinaryFoundError" when no prebuilt binary for the backend can run here
        const reason = (error as Error).message === "NoBinaryFoundError" ? `no working ${options.gpu} driver or device` : (error as Error).message;
        log.warn(`${options.gpu} cannot start here (${reason}); falling back to the CPU`);
        return getLlama({ ...common, gpu: false });
    }
}

function backendName(llama: Llama): string {
    return llama.gpu === false ? "cpu" : llama.gpu;
}

/** Which build of the engine runs on the CPU: the prebuilt one runs prompts at about 60% of a native build's speed. */
function cpuEngineNote(llama: Llama): string {
    if (llama.gpu !== false) return "";
    return llama.buildType === "localBuild" ? "; engine built for this machine" : "; prebuilt engine (`nemoreward build` compiles a faster one for this CPU)";
}
