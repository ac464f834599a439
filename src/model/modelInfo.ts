import { statSync } from "node:fs";
import { GgufFileType, GgufInsights } from "node-llama-cpp";
import { readGguf } from "./readGguf.js";
import { modelParts } from "./findModel.js";
import { contextCells } from "../engine/rewardEngine.js";

/** What `nemoreward info` reports about a GGUF. */
export type ModelInfo = {
    path: string;
    architecture: string;
    name?: string;
    parameters: number;
    quantization: string;
    /** Bytes, all parts of a split file together. */
    fileSize: number;
    parts: number;
    contextLength?: number;
    vocabSize: number;
    rewardToken: { id: number; text: string | null };
    tiedOutput: boolean;
    hasChatTemplate: boolean;
    chatTemplateFamily: string | null;
    layers: number;
    /** Estimated memory with all layers on the GPU and one context of `contextSize` tokens. */
    estimate: { gpuLayers: number; contextSize: number; gpuBytes: number; cpuBytes: number };
};

function templateFamily(template: string): string {
    if (template.includes("<|start_header_id|>")) return "llama3";
    if (template.includes("<|im_start|>")) return "chatml";
    if (template.includes("[INST]")) return "mistral";
    if (template.includes("<start_of_turn>")) return "gemma";
    return "other";
}

export async function modelInfo(path: string, options: { rewardToken: number; contextSize: number; gpuLayers?: number }): Promise<ModelInfo> {
    const fileInfo = await readGguf(path);
    const meta = fileInfo.metadata;
    const tokens = meta.tokenizer?.ggml?.tokens ?? [];
    const template = meta.tokenizer?.chat_template;
    const tensors = fileInfo.fullTensorInfo ?? fileInfo.tensorInfo ?? [];
    const parts = modelParts(path);
    const insights = await GgufInsights.from(fileInfo);
    const gpuLayers = Math.min(options.gpuLayers ?? insights.totalLayers, insights.totalLayers);
    const model = insights.estimateModelResourceRequirements({ gpuLayers });
    const context = insights.estimateContextResourceRequirements({ contextSize: contextCells(options.contextSize), modelGpuLayers: gpuLayers, sequences: 1 });
    const fileType = meta.general?.file_type;
    return {
        path,
        architecture: meta.general?.architecture ?? "unknown",
        name: meta.general?.name,
        parameters: insights.totalParameters,
        quantization: fileType === undefined ? "unknown" : (GgufFileType[fileType] ?? String(fileType)).replace(/^(MOSTLY|ALL)_/, ""),
        fileSize: parts.reduce((sum, part) => sum + statSync(part).size, 0),
        parts: parts.length,
        contextLength: insights.trainContextSize,
        vocabSize: tokens.length,
        rewardToken: { id: options.rewardToken, text: tokens[options.rewardToken] ?? null },
        tiedOutput: !tensors.some((t) => t.name === "output.weight"),
        hasChatTemplate: template !== undefined,
        chatTemplateFamily: template === undefined ? null : templateFamily(template),
        layers: insights.totalLayers,
        estimate: { gpuLayers, contextSize: options.contextSize, gpuBytes: model.gpuVram + context.gpuVram, cpuBytes: model.cpuRam + context.cpuRam },
    };
}
