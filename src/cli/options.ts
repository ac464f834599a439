import { InvalidArgumentError, Option, type Command } from "commander";
import { defaultThreads } from "../engine/availableCores.js";
import type { GpuChoice, GpuLayers } from "../engine/rewardEngine.js";
import type { RunOptions } from "../score/runPipeline.js";
import type { InputFormat } from "../input/inputRow.js";
import { expandInputs, inputFormats } from "../input/openInput.js";
import { outputFormats, type OutputFormat } from "../output/formats.js";
import { defaultFields } from "../conversation/toConversation.js";
import { UsageError } from "../errors.js";
import { findModel } from "../model/findModel.js";
import type { Shard } from "../score/shards.js";

/** A whole number of at least `min`, for Commander's argParser. */
export function integer(min: number) {
    return (value: string): number => {
        const n = Number(value);
        if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
            throw new InvalidArgumentError(`expected a whole number of at least ${min}.`);
        return n;
    };
}

/** A whole number of at least 1, or "auto". */
export function countOrAuto(value: string): number | "auto" {
    return value === "auto" ? value : integer(1)(value);
}

function gpuLayers(value: string): GpuLayers {
    if (value === "max" || value === "auto") return value;
    return integer(0)(value);
}

/**
 * The options of every command that reads conversations. `writes`: "rows" (score, render: `-o FILE` or `--format`
 * picks the format), or what `-o FILE` writes instead (eval: a report, pairs: JSONL).
 */
export function addRunOptions(command: Command, writes = "rows"): Command {
    command
        .option("-m, --model <file>", "reward model GGUF (default: $NEMOREWARD_MODEL, else the last `nemoreward pull`)")
        .option("-o, --output <file>", writes === "rows" ? "write here instead of stdout; the extension picks the format" : writes);
    if (writes === "rows")
        command.addOption(new Option("--format <format>", "output format (default: CSV/TSV for CSV/TSV input, a table on a terminal, else JSONL)").choices(outputFormats));
    return command
        .addOption(new Option("--input-format <format>", "input format when the file name does not tell (stdin: jsonl)").choices(inputFormats))
        .option("--messages-field <name>", "field holding the message list (default: messages, then conversations)")
        .option("--prompt-field <name>", "field holding the prompt", defaultFields.prompt)
        .option("--response-field <name>", "field holding the response", defaultFields.response)
        .option("--system-field <name>", "field holding the system message", defaultFields.system)
        .option("--max-errors <n>", "stop after this many rows could not be processed, exit 3 (default: no limit)", integer(1))
        .option("--max-record-mb <n>", "a record (line) larger than this is an error row", integer(1), 64)
        .option("--chat-template <file>", "Jinja chat template to use instead of the model's own")
        .addOption(new Option("--content-special <mode>", "special-token text inside message content: read as the special token (as Hugging Face does) or as plain text")
            .choices(["special", "text"]).default("special"))
        .option("-q, --quiet", "print only warnings (rows not scored) and errors on stderr")
        .option("--progress-seconds <n>", "seconds between progress lines when stderr is not a terminal", integer(0), 5)
        .option("--verbose", "print engine messages and stack traces");
}

const defaultContextSize = 4096;

/** The options that run the model and change how rewards are computed: score, eval and pairs share them. */
export function addScoringOptions(command: Command): Command {
    return command
        .option("--context-size <tokens>", "context size; longer conversations become error rows", integer(1), defaultContextSize)
        .addOption(new Option("--gpu <backend>", "compute backend").choices(["auto", "cuda", "vulkan", "cpu"]).default("auto"))
        .option("--gpu-layers <n|max|auto>", "layers to offload to the GPU", gpuLayers, "auto" as GpuLayers)
        .option("--threads <n|auto>", "CPU threads (default: $NEMOREWARD_THREADS, else auto: the cores available to this process that other processes leave free, re-counted every second)", countOrAuto)
        .option("--field <name>", "name of the reward field or column", "reward")
        .option("--precise", "f32 KV cache: slower, closest to the exact reward")
        .option("--flash-attention", "faster attention on long rows; rewards move about 2e-3 from the default (README, Reproducibility)")
        .option("--reward-token <id>", "vocabulary id whose logit is the reward", integer(0), 0)
        .option("--parallel <n|auto>", "conversations evaluated side by side in one context (auto: 1 on CPU, 8 on GPU)", countOrAuto, "auto" as const)
        .option("--no-reuse", "re-evaluate shared prompt prefixes instead of keeping them in the KV cache")
        .addOption(new Option("--on-overlong <policy>", "a conversation over the context: error row, skipped row, or drop its oldest turns")
            .choices(["error", "skip", "truncate"]).default("error"));
}

function finiteNumber(value: string): number {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("expected a number.");
    return n;
}

/** Cleaning in the same pass: reward bounds, the K best of each group, and where the rows filtered out go. */
export function addFilterOptions(command: Command): Command {
    return command
        .option("--min-reward <x>", "keep rows whose reward is at least X", finiteNumber)
        .option("--max-reward <x>", "keep rows whose reward is at most X", finiteNumber)
        .option("--top-k <k>", "keep the K best of each group: a best-of-N row's responses, or a run of rows sharing a prompt (or --group-by)", integer(1))
        .option("--rejects <file>", "write the rows filtered out (and rows not scored) here, with \"dropped\" saying why");
}

export type RunFlags = {
    model?: string;
    output?: string;
    format?: OutputFormat;
    inputFormat?: InputFormat;
    messagesField?: string;
    promptField: string;
    responseField: string;
    systemField: string;
    maxErrors?: number;
    maxRecordMb: number;
    chatTemplate?: string;
    contextSize?: number;
    gpu?: GpuChoice;
    gpuLayers?: GpuLayers;
    threads?: number | "auto";
    quiet?: boolean;
    progressSeconds: number;
    verbose?: boolean;
    field?: string;
    rewardToken?: number;
    precise?: boolean;
    flashAttention?: boolean;
    parallel?: number | "auto";
    reuse?: boolean;
    rank?: boolean;
    groupBy?: string;
    resume?: boolean;
    shard?: Shard;
    onOverlong?: "error" | "skip" | "truncate";
    contentSpecial?: "special" | "text";
    minReward?: number;
    maxReward?: number;
    topK?: number;
    rejects?: string;
};

/** Turns parsed flags and positional inputs into the core's typed options. */
export function toRunOptions(inputs: string[], flags: RunFlags, io: { stdinIsTTY: boolean; signal?: AbortSignal }): RunOptions {
    if (inputs.length === 0) {
        if (io.stdinIsTTY) throw new UsageError("no input: name a file, or pipe one to standard input ('-')");
        inputs = ["-"];
    }
    return {
        inputs: expandInputs(inputs),
        inputFormat: flags.inputFormat,
        fields: {
            messages: flags.messagesField,
            prompt: flags.promptField,
            response: flags.responseField,
            system: flags.systemField,
        },
        outputPath: flags.output,
        format: flags.format,
        field: flags.field ?? "reward",
        maxErrors: flags.maxErrors,
        maxRecordBytes: flags.maxRecordMb * 1024 * 1024,
        modelPath: findModel(flags.model),
        chatTemplatePath: flags.chatTemplate,
        // render has no engine options: it loads only the vocabulary
        contextSize: flags.contextSize ?? defaultContextSize,
        gpu: flags.gpu ?? "auto",
        gpuLayers: flags.gpuLayers ?? "auto",
        threads: flags.threads ?? defaultThreads(),
        parallel: flags.parallel ?? "auto",
        precise: flags.precise ?? false,
        flashAttention: flags.flashAttention ?? false,
        rewardToken: flags.rewardToken ?? 0,
        reuse: flags.reuse ?? true,
        quiet: flags.quiet ?? false,
        progressSeconds: flags.progressSeconds,
        verbose: flags.verbose ?? false,
        signal: io.signal,
        rank: flags.rank ?? false,
        resume: flags.resume ?? false,
        shard: flags.shard,
        onOverlong: flags.onOverlong ?? "error",
        contentSpecial: flags.contentSpecial ?? "special",
        groupBy: flags.groupBy,
        filter: filterOptions(flags),
    };
}

function filterOptions(flags: RunFlags): RunOptions["filter"] {
    const { minReward, maxReward, topK, rejects } = flags;
    if (minReward === undefined && maxReward === undefined && topK === undefined) {
        if (rejects !== undefined) throw new UsageError("--rejects goes with --min-reward, --max-reward or --top-k");
        return undefined;
    }
    const what = "--min-reward, --max-reward and --top-k";
    if (flags.resume) throw new UsageError(`${what} cannot be combined with --resume: filter the finished output instead`);
    if (flags.shard !== undefined) throw new UsageError(`${what} cannot be combined with --shard: merge the shards, then filter`);
    return { minReward, maxReward, topK, rejectsPath: rejects };
}
