import { Command } from "commander";
import { integer } from "../../plan/flags.js";
import type { ModelInfo } from "../../model/modelInfo.js";
import { findModel } from "../../model/findModel.js";
import type { CliIo } from "../../io.js";
import { UsageError } from "../../errors.js";

function gb(bytes: number): string {
    if (bytes >= 1e9) return `${(bytes / 1e9).toFixed(2)} GB`;
    return bytes >= 1e6 ? `${(bytes / 1e6).toFixed(1)} MB` : `${(bytes / 1e3).toFixed(1)} kB`;
}

function describe(info: ModelInfo): string {
    const billions = info.parameters / 1e9;
    const rows: [string, string][] = [
        ["file", `${info.path}${info.parts > 1 ? ` (+${info.parts - 1} more parts)` : ""}`],
        ["architecture", `${info.architecture}${info.name ? ` (${info.name})` : ""}`],
        ["parameters", billions >= 0.1 ? `${billions.toFixed(1)} B` : `${(info.parameters / 1e6).toFixed(2)} M`],
        ["quantization", info.quantization],
        ["file size", `${gb(info.fileSize)}${info.parts > 1 ? ` in ${info.parts} parts` : ""}`],
        ["context length", info.contextLength === undefined ? "unknown" : String(info.contextLength)],
        ["vocabulary", `${info.vocabSize} tokens`],
        ["reward token", `${info.rewardToken.id} ${JSON.stringify(info.rewardToken.text)}`],
        ["output head", info.tiedOutput ? "tied to the token embeddings" : "separate"],
        ["chat template", info.hasChatTemplate ? `embedded (${info.chatTemplateFamily})` : "none (nemoreward uses Llama 3.1)"],
        ["layers", String(info.layers)],
        ["memory estimate", `${gb(info.estimate.gpuBytes)} GPU + ${gb(info.estimate.cpuBytes)} RAM with ${info.estimate.gpuLayers} layers ` +
            `on the GPU and a ${info.estimate.contextSize}-token context`],
    ];
    return rows.map(([k, v]) => `${k.padEnd(16)}${v}`).join("\n") + "\n";
}

export function infoCommand(io: CliIo): Command {
    return new Command("info")
        .summary("describe a reward model GGUF: shape, quantisation, template, memory needed")
        .argument("[model]", "GGUF file (the first part of a split one); default as for score")
        .option("-m, --model <file>", "the model, as for score (or give it as the argument)")
        .option("--json", "print one JSON object")
        .option("--reward-token <id>", "vocabulary id whose logit is the reward", integer(0), 0)
        .option("--context-size <tokens>", "context size for the memory estimate", integer(1), 4096)
        .option("--gpu-layers <n|max>", "layers on the GPU for the memory estimate (max: all, as `score --gpu-layers max`)",
            (value: string) => (value === "max" ? value : integer(0)(value)), "max" as const)
        .addHelpText("after", `
Examples:
  nemoreward info Llama-3.1-Nemotron-70B-Reward-HF-Q4_K_M.gguf
  nemoreward info model.gguf --json | jq .parameters`)
        .action(async (argument: string | undefined, flags: { model?: string; json?: boolean; rewardToken: number; contextSize: number; gpuLayers: number | "max" }) => {
            if (argument !== undefined && flags.model !== undefined)
                throw new UsageError("name the model once: as the argument or with -m/--model");
            const { modelInfo } = await import("../../model/modelInfo.js");
            const info = await modelInfo(findModel(argument ?? flags.model), { ...flags, gpuLayers: flags.gpuLayers === "max" ? undefined : flags.gpuLayers });
            io.stdout.write(flags.json ? `${JSON.stringify(info)}\n` : describe(info));
        });
}
