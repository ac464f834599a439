import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addNamedFlags, defaultContextSize, type FlagName } from "../../plan/flags.js";

/** The flags check shares with score, defined once in the flag table. */
const checkFlags: FlagName[] = ["model", "gpu", "gpuLayers", "threads", "precise", "flashAttention", "quiet", "verbose", "json"];

export function checkCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("check")
        .summary("score the model card's two examples and compare with the bf16 rewards it publishes")
        .description(
            "Scores [user \"What is 1+1?\", assistant \"1+1=2\"] and \"1+1=3\", prints each reward beside the model card's bf16 value " +
            "(-3.28125 and -4.28125) with the difference, and whether \"1+1=2\" still scores higher. Exit 0 when it does, 1 when the order is " +
            "wrong; a model that is not Llama-3.1-Nemotron-70B-Reward (the tiny test model) is said to be so, with exit 0.",
        );
    return addNamedFlags(command, checkFlags)
        .addHelpText("after", `
Examples:
  nemoreward pull Q4_K_M && nemoreward check
  nemoreward check -m Llama-3.1-Nemotron-70B-Reward-HF-Q2_K.gguf --json`)
        .action(async (flags: { model?: string; gpu?: "auto" | "cuda" | "vulkan" | "cpu"; gpuLayers?: number | "max" | "auto"; threads?: number | "auto";
            precise?: boolean; flashAttention?: boolean; quiet?: boolean; verbose?: boolean; json?: boolean }) => {
            const { findModel } = await import("../../model/findModel.js");
            const { engineOptions } = await import("../../plan/plan.js");
            const { runCheck } = await import("../../eval/check.js");
            // two short conversations, one at a time: a small context, no prefix reuse, token 0 as the card reads it
            setExit(await runCheck(engineOptions({ ...flags, parallel: 1, reuse: false, rewardToken: 0 }, findModel(flags.model), false, Math.min(512, defaultContextSize)),
                { json: flags.json === true, quiet: flags.quiet === true, verbose: flags.verbose === true }, io));
        });
}
