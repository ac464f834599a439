import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function evalCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("eval")
        .summary("accuracy of the reward model on a preference file (RewardBench, HelpSteer2-Preference)")
        .description(
            "Scores each pair and prints, on stdout (or to -o FILE), accuracy overall and per \"subset\" (correct when the preferred " +
            "response scores strictly higher; ties are shown and count as wrong), the mean margin, and for RewardBench " +
            "subsets the Chat, Chat Hard, Safety and Reasoning scores with the official example weights and their mean.",
        )
        .argument("[inputs...]", "preference files: prompt + chosen + rejected, or prompt + response_1 + response_2 + preference_strength");
    return addFlags(command, "eval")
        .addHelpText("after", `
Examples:
  nemoreward eval reward-bench.jsonl -m model.gguf
  nemoreward eval reward-bench.jsonl -m model.gguf --json --per-row scored.jsonl | jq .overall`)
        .action(runConversations("eval", io, setExit));
}
