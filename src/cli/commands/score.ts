import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function scoreCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("score")
        .summary("add the reward of each conversation's final assistant turn")
        .description(
            "Reads conversations (JSONL, JSON array, CSV or TSV files, gzipped or not, Parquet, or standard input) and writes " +
            "each row unchanged plus the reward: the raw logit of the reward token after the conversation rendered " +
            "with the model's chat template. Records may hold \"messages\" [{role, content}], ShareGPT " +
            "\"conversations\" [{from, value}], \"prompt\" + \"response\" (HelpSteer2 multi-turn prompts too), or Alpaca " +
            "\"instruction\" (+ \"input\") + \"output\"; " +
            "pairs (\"chosen\" + \"rejected\", \"response_1\" + \"response_2\") and best-of-N (\"responses\": [...]) get " +
            "one reward per response. " +
            "Rows that cannot be scored keep their place with an empty reward and an \"error\".",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    return addFlags(command, "score")
        .addHelpText("after", `
Examples:
  nemoreward score data.jsonl -m model.gguf > scored.jsonl
  cat data.jsonl | nemoreward score -m model.gguf | jq 'select(.reward > -5)'
  nemoreward score helpsteer2.csv -m model.gguf -o scored.csv      CSV in, CSV out, columns kept
  nemoreward score part-*.jsonl.gz -m model.gguf --format table    a view for people
  zcat dump.gz | nemoreward score - --input-format csv -m model.gguf
  nemoreward score qa.jsonl -m model.gguf --prompt-field question --response-field answer
  nemoreward score data.jsonl -m model.gguf --gpu cuda --gpu-layers max
  nemoreward score samples.jsonl -m model.gguf --rank                  rank responses to the same prompt
  nemoreward score big.jsonl -m model.gguf -o scored.jsonl --resume     continue after an interruption
  nemoreward score big.jsonl -m model.gguf --shard 2/8 -o part-2.jsonl  one of 8 machines
  nemoreward score big.jsonl -m model.gguf --shard auto -o out/part-{shard}-of-{shards}.jsonl
                                            a task of a Slurm, AWS Batch, Google Batch or Cloud Run array
  nemoreward score data/ -m model.gguf -o scored.parquet                a folder of Parquet files (HF layout)
  nemoreward score bon.parquet -m model.gguf --top-k 1 --min-reward -2 -o best.parquet --rejects dropped.parquet
  nemoreward score data.jsonl --server http://127.0.0.1:8000 -o scored.jsonl   on a running \`nemoreward serve\`

Exit status: 0 all rows scored, 1 model or run failure (retry), 2 usage error or bad input (do not retry),
3 some rows not scored (done), 75 another run is writing the output (retry later), 130 interrupted (retry:
--resume continues), 141 the reader closed the output early.`)
        .action(runConversations("score", io, setExit));
}
