import { Command } from "commander";
import { addRunOptions, countOrAuto, integer, toRunOptions, type RunFlags } from "../options.js";
import { runScore } from "../../score/runPipeline.js";
import type { CliIo } from "../main.js";

export function scoreCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("score")
        .summary("add the reward of each conversation's final assistant turn")
        .description(
            "Reads conversations (JSONL, JSON array, CSV or TSV files, gzipped or not, or standard input) and writes\n" +
            "each row unchanged plus the reward: the raw logit of the reward token after the conversation rendered\n" +
            "with the model's chat template. Records may hold \"messages\" [{role, content}], ShareGPT\n" +
            "\"conversations\" [{from, value}], or \"prompt\" + \"response\" (HelpSteer2 multi-turn prompts too).\n" +
            "Rows that cannot be scored keep their place with an empty reward and an \"error\".",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    addRunOptions(command)
        .option("--field <name>", "name of the reward field or column", "reward")
        .option("--precise", "f32 KV cache: slower, closest to the exact reward")
        .option("--flash-attention", "faster on long rows, but a row's reward then depends on its batch neighbours")
        .option("--reward-token <id>", "vocabulary id whose logit is the reward", integer(0), 0)
        .option("--parallel <n|auto>", "conversations evaluated side by side in one context (auto: 1 on CPU, 8 on GPU)", countOrAuto, "auto" as const)
        .option("--no-reuse", "re-evaluate shared prompt prefixes instead of keeping them in the KV cache")
        .addHelpText("after", `
Examples:
  nemoreward score data.jsonl -m model.gguf > scored.jsonl
  cat data.jsonl | nemoreward score -m model.gguf | jq 'select(.reward > -5)'
  nemoreward score helpsteer2.csv -m model.gguf -o scored.csv      CSV in, CSV out, columns kept
  nemoreward score part-*.jsonl.gz -m model.gguf --format table    a view for people
  zcat dump.gz | nemoreward score - --input-format csv -m model.gguf
  nemoreward score sft.jsonl -m model.gguf --prompt-field instruction --response-field output
  nemoreward score data.jsonl -m model.gguf --gpu cuda --gpu-layers max

Exit status: 0 all rows scored, 1 model or run failure, 2 usage error, 3 some rows not scored, 130 interrupted.`)
        .action(async (inputs: string[], flags: RunFlags) => {
            setExit(await runScore(toRunOptions(inputs, flags, io), io));
        });
    return command;
}
