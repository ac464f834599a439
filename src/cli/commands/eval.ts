import { Command } from "commander";
import { addRunOptions, addScoringOptions, toRunOptions, type RunFlags } from "../options.js";
import { runEval } from "../../score/runEval.js";
import type { CliIo } from "../../io.js";
import { UsageError } from "../../errors.js";
import { formatOfPath } from "../../output/formats.js";

export function evalCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("eval")
        .summary("accuracy of the reward model on a preference file (RewardBench, HelpSteer2-Preference)")
        .description(
            "Scores each pair and prints, on stdout (or to -o FILE), accuracy overall and per \"subset\" (correct when the preferred " +
            "response scores strictly higher; ties are shown and count as wrong), the mean margin, and for RewardBench " +
            "subsets the Chat, Chat Hard, Safety and Reasoning scores with the official example weights and their mean.",
        )
        .argument("[inputs...]", "preference files: prompt + chosen + rejected, or prompt + response_1 + response_2 + preference_strength");
    addRunOptions(command, "write the report here instead of stdout: FILE.json as with --json, else the table");
    addScoringOptions(command)
        .option("--json", "print one JSON object instead of a table")
        .option("--per-row <file>", "also write each scored row (with reward_chosen, reward_rejected, margin) here")
        .addHelpText("after", `
Examples:
  nemoreward eval reward-bench.jsonl -m model.gguf
  nemoreward eval reward-bench.jsonl -m model.gguf --json --per-row scored.jsonl | jq .overall`)
        .action(async (inputs: string[], flags: RunFlags & { json?: boolean; perRow?: string }) => {
            const format = flags.output === undefined ? undefined : formatOfPath(flags.output);
            if (format === "csv" || format === "tsv")
                throw new UsageError(`eval writes a report, not ${format}: name -o FILE .json (JSON) or .txt (the table); --per-row FILE for the scored rows`);
            const json = flags.json === true || format === "json" || format === "jsonl";
            const options = toRunOptions(inputs, flags, io);
            setExit(await runEval({ ...options, json, perRowPath: flags.perRow }, io));
        });
    return command;
}
