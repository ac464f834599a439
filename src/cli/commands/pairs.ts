import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function pairsCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("pairs")
        .summary("write DPO pairs {prompt, chosen, rejected}: best vs worst response of each prompt")
        .description(
            "Scores best-of-N rows (prompt + responses: [...]), response_1 + response_2 rows, or runs of rows sharing a " +
            "prompt (--group-by FIELD to group otherwise) and writes, as JSONL, one pair per prompt: the highest- and the " +
            "lowest-scored response, with reward_chosen, reward_rejected and margin. A chosen + rejected row is written " +
            "as labelled when chosen scores higher. A tie is never a pair. stderr says how many pairs were written and " +
            "why the other prompts gave none.",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    return addFlags(command, "pairs")
        .addHelpText("after", `
Examples:
  nemoreward pairs samples.jsonl -m model.gguf > dpo.jsonl
  nemoreward pairs samples.jsonl -m model.gguf --min-margin 1.5 -o dpo.jsonl`)
        .action(runConversations("pairs", io, setExit));
}
