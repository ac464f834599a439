import type { CliIo } from "../io.js";
import { createLog } from "../log.js";
import { exitCodes } from "../errors.js";
import type { EngineOptions } from "../engine/rewardEngine.js";
import { modelInfo } from "../model/modelInfo.js";
import { loadTemplate } from "../template/loadTemplate.js";
import { modelCardCheck } from "./published.js";

export type CheckReport = {
    model: string;
    /** false: not Llama-3.1-Nemotron-70B-Reward's shape (80 layers, 128,256 tokens, ~70 B parameters); the card's values do not apply */
    reward_model: boolean;
    source: string;
    answers: { prompt: string; response: string; bf16: number; reward: number; difference: number }[];
    /** "1+1=2" scores higher than "1+1=3", as with bf16; null when this is not the reward model */
    order_right: boolean | null;
};

/** The model's shape is the 70B reward model's: the card's bf16 rewards are what a faithful copy gives. */
function isRewardModel(info: { layers: number; vocabSize: number; parameters: number }): boolean {
    return info.layers === 80 && info.vocabSize === 128256 && info.parameters > 60e9;
}

/**
 * `nemoreward check`: the model card's two answers scored, each beside the card's bf16 reward, and whether their order
 * holds. Exit 0 when it does (or when the model is not the reward model, which is said, not failed); 1 when the order
 * is wrong.
 */
export async function runCheck(engineOptions: EngineOptions, options: { json: boolean; quiet: boolean; verbose: boolean }, io: CliIo): Promise<number> {
    const log = createLog(io.stderr, options);
    const info = await modelInfo(engineOptions.modelPath, { rewardToken: engineOptions.rewardToken, contextSize: engineOptions.contextSize });
    const rewardModel = isRewardModel(info);
    const { RewardEngine } = await import("../engine/rewardEngine.js");
    const engine = await RewardEngine.load(engineOptions, log);
    const answers: CheckReport["answers"] = [];
    try {
        const template = loadTemplate(engine, undefined, log);
        for (const { response, reward: bf16 } of modelCardCheck.answers) {
            const rendered = template.render([{ role: "user", content: modelCardCheck.prompt }, { role: "assistant", content: response }]);
            const reward = await engine.reward(engine.tokenizer.tokenize(rendered).tokens!);
            answers.push({ prompt: modelCardCheck.prompt, response, bf16, reward, difference: reward - bf16 });
        }
    } finally {
        await engine.dispose();
    }
    const report: CheckReport = {
        model: engineOptions.modelPath, reward_model: rewardModel, source: modelCardCheck.source, answers,
        order_right: rewardModel ? answers[0]!.reward > answers[1]!.reward : null,
    };
    io.stdout.write(options.json ? `${JSON.stringify(report)}\n` : describeCheck(report, info));
    return report.order_right === false ? exitCodes.failure : exitCodes.ok;
}

function describeCheck(report: CheckReport, info: { layers: number; parameters: number; quantization: string }): string {
    const lines = [
        `model card check: user ${JSON.stringify(report.answers[0]?.prompt)}, two answers (bf16 values: ${report.source})`,
        "",
        `${"answer".padEnd(10)}${"bf16 (card)".padStart(14)}${"this model".padStart(14)}${"difference".padStart(14)}`,
        ...report.answers.map((a) => `${a.response.padEnd(10)}${a.bf16.toFixed(5).padStart(14)}${a.reward.toFixed(5).padStart(14)}${`${a.difference >= 0 ? "+" : ""}${a.difference.toFixed(5)}`.padStart(14)}`),
        "",
    ];
    if (!report.reward_model)
        lines.push(`not the reward model: ${info.layers} layers, ${(info.parameters / 1e6).toFixed(1)} M parameters (${info.quantization}); ` +
            "Llama-3.1-Nemotron-70B-Reward has 80 layers and 70 B. The card's values do not apply to it, so the order is not judged.");
    else if (report.order_right)
        lines.push(`order: right ("${report.answers[0]!.response}" scores higher than "${report.answers[1]!.response}", as with bf16) — ${info.quantization}`);
    else lines.push(`order: WRONG ("${report.answers[1]!.response}" scores at least as high as "${report.answers[0]!.response}"): this copy of the model is broken (${info.quantization})`);
    return `${lines.join("\n")}\n`;
}
