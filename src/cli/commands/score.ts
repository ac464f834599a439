import { Command } from "commander";
import { addModelOptions, integer, toRunOptions, type ModelFlags } from "../options.js";
import { runScore, type Io } from "../../score/runPipeline.js";

export function scoreCommand(io: Io & { stdinIsTTY: boolean }, setExit: (code: number) => void): Command {
    const command = new Command("score")
        .summary("print each conversation with the reward of its final assistant turn")
        .description(
            "Reads JSONL conversations ({\"messages\": [{\"role\", \"content\"}, ...]}) and prints each input line\n" +
            "unchanged plus \"reward\": the raw logit of the reward token after the conversation rendered with\n" +
            "the model's chat template. Rows that cannot be scored get \"reward\": null and \"error\".",
        )
        .argument("[inputs...]", "JSONL files; '-' or nothing reads standard input");
    addModelOptions(command)
        .option("--precise", "f32 KV cache: slower, closest to the exact reward")
        .option("--flash-attention", "faster on long rows, but a row's reward then depends on its batch neighbours")
        .option("--reward-token <id>", "vocabulary id whose logit is the reward", integer(0), 0)
        .option("--parallel <n>", "conversations evaluated side by side in one context", integer(1), 1)
        .option("--no-reuse", "re-evaluate shared prompt prefixes instead of keeping them in the KV cache")
        .addHelpText("after", `
Examples:
  nemoreward score data.jsonl -m model.gguf > scored.jsonl
  cat data.jsonl | nemoreward score -m model.gguf | jq .reward
  nemoreward score data.jsonl -m model.gguf --gpu cuda --gpu-layers max

Exit status: 0 all rows scored, 1 model or run failure, 2 usage error, 3 some rows not scored.`)
        .action(async (inputs: string[], flags: ModelFlags) => {
            setExit(await runScore(toRunOptions(inputs, flags, io.stdinIsTTY), io));
        });
    return command;
}
