import { InvalidArgumentError, Option, type Command } from "commander";
import { availableCores } from "../engine/availableCores.js";
import type { GpuChoice, GpuLayers } from "../engine/rewardEngine.js";
import type { RunOptions } from "../score/runPipeline.js";
import { UsageError } from "../errors.js";

/** A whole number of at least `min`, for Commander's argParser. */
export function integer(min: number) {
    return (value: string): number => {
        const n = Number(value);
        if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
            throw new InvalidArgumentError(`expected a whole number of at least ${min}.`);
        return n;
    };
}

function gpuLayers(value: string): GpuLayers {
    if (value === "max" || value === "auto") return value;
    return integer(0)(value);
}

/** The options every command that loads a model shares. */
export function addModelOptions(command: Command): Command {
    return command
        .requiredOption("-m, --model <file>", "reward model GGUF file")
        .option("--chat-template <file>", "Jinja chat template to use instead of the model's own")
        .option("--context-size <tokens>", "context size; longer conversations become error rows", integer(1), 4096)
        .addOption(new Option("--gpu <backend>", "compute backend").choices(["auto", "cuda", "vulkan", "cpu"]).default("auto"))
        .option("--gpu-layers <n|max|auto>", "layers to offload to the GPU", gpuLayers, "auto" as GpuLayers)
        .option("--threads <n>", "CPU threads (default: the cores available to this process)", integer(1))
        .option("-q, --quiet", "print only errors on stderr")
        .option("--verbose", "print engine messages and stack traces");
}

export type ModelFlags = {
    model: string;
    chatTemplate?: string;
    contextSize: number;
    gpu: GpuChoice;
    gpuLayers: GpuLayers;
    threads?: number;
    quiet?: boolean;
    verbose?: boolean;
    rewardToken?: number;
    precise?: boolean;
    flashAttention?: boolean;
    parallel?: number;
    reuse?: boolean;
};

/** Turns parsed flags and positional inputs into the core's typed options. */
export function toRunOptions(inputs: string[], flags: ModelFlags, stdinIsTTY: boolean): RunOptions {
    if (inputs.length === 0) {
        if (stdinIsTTY) throw new UsageError("no input: give a JSONL file, or pipe one to standard input ('-')");
        inputs = ["-"];
    }
    return {
        inputs,
        modelPath: flags.model,
        chatTemplatePath: flags.chatTemplate,
        contextSize: flags.contextSize,
        gpu: flags.gpu,
        gpuLayers: flags.gpuLayers,
        threads: flags.threads ?? availableCores(),
        parallel: flags.parallel ?? 1,
        precise: flags.precise ?? false,
        flashAttention: flags.flashAttention ?? false,
        rewardToken: flags.rewardToken ?? 0,
        reuse: flags.reuse ?? true,
        quiet: flags.quiet ?? false,
        verbose: flags.verbose ?? false,
    };
}
