import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function pairsCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("pairs")
        .summary("write DPO pairs {prompt, chosen, rejected} in TRL's format: best vs worst response of each prompt")
        .description(
            "Scores best-of-N rows (prompt + responses: [...]), response_1 + response_2 rows, or runs of rows sharing a " +
            "prompt (--group-by FIELD to group otherwise), or reads the rewards they already hold (--scored, no model), and " +
            "writes one pair per prompt: the highest- and the lowest-scored response, with reward_chosen, reward_rejected, " +
            "margin and the input's other columns, in TRL's conversational format (message lists, the system message kept) " +
            "or its standard one (strings), as JSONL, JSON or Parquet (-o FILE's extension). A chosen + rejected row is " +
            "written as labelled when chosen scores higher. A tie is never a pair. stderr says how many pairs were written " +
            "and why the other prompts gave none.",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    return addFlags(command, "pairs")
        .addHelpText("after", `
Examples:
  nemoreward pairs samples.jsonl -m model.gguf > dpo.jsonl
  nemoreward pairs samples.jsonl -m model.gguf --min-margin 1.5 -o dpo.jsonl
  nemoreward pairs scored.jsonl --scored --group-by prompt_id -o dpo.parquet      rewards already computed
  nemoreward pairs samples.jsonl -m model.gguf --pair-format trl-standard > dpo.jsonl`)
        .action(runConversations("pairs", io, setExit));
}
