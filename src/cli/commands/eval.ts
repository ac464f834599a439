import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function evalCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("eval")
        .summary("a benchmark's scores for the reward model: RewardBench, RewardBench 2, RM-Bench (or HelpSteer2-Preference accuracy)")
        .description(
            "Scores each row and prints, on stdout (or to -o FILE), the benchmark's table as its leaderboard lays it out. The benchmark is " +
            "told from the records (--benchmark overrides): RewardBench 2 (num_correct; 1/k credit, the Ties formula, the mean of six " +
            "subsets), RM-Bench (three chosen and three rejected answers; the 3x3 style matrix per domain, safety merged, the mean of four), " +
            "else RewardBench (accuracy per subset, ties wrong; Chat, Chat Hard, Safety, Reasoning with the official example weights). " +
            "An earlier run's --per-row file given without -m is reported on without the model (with -m, scored again).",
        )
        .argument("[inputs...]", "benchmark files or dataset folders (Parquet shards, JSON, JSONL): prompt + chosen + rejected (answers or lists), " +
            "or prompt + response_1 + response_2 + preference_strength; or an earlier eval's --per-row file");
    return addFlags(command, "eval")
        .addHelpText("after", `
Examples:
  nemoreward eval reward-bench.jsonl -m model.gguf
  nemoreward eval reward-bench-2/data -m model.gguf --max-tokens 2048 --per-row rb2.jsonl --resume --compare published
  nemoreward eval RM-Bench/total_dataset.json -m model.gguf --json --per-row rm.jsonl | jq .overall
  nemoreward eval rb2.jsonl --compare published      (the rows scored above: no model)`)
        .action(runConversations("eval", io, setExit));
}
