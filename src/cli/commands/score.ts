import { Command } from "commander";
import { addFilterOptions, addRunOptions, addScoringOptions, toRunOptions, type RunFlags } from "../options.js";
import { runScore } from "../../score/runScore.js";
import { parseShard } from "../../score/shards.js";
import type { CliIo } from "../../io.js";
import { UsageError } from "../../errors.js";

export function scoreCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("score")
        .summary("add the reward of each conversation's final assistant turn")
        .description(
            "Reads conversations (JSONL, JSON array, CSV or TSV files, gzipped or not, or standard input) and writes " +
            "each row unchanged plus the reward: the raw logit of the reward token after the conversation rendered " +
            "with the model's chat template. Records may hold \"messages\" [{role, content}], ShareGPT " +
            "\"conversations\" [{from, value}], \"prompt\" + \"response\" (HelpSteer2 multi-turn prompts too), or Alpaca " +
            "\"instruction\" (+ \"input\") + \"output\"; " +
            "pairs (\"chosen\" + \"rejected\", \"response_1\" + \"response_2\") and best-of-N (\"responses\": [...]) get " +
            "one reward per response. " +
            "Rows that cannot be scored keep their place with an empty reward and an \"error\".",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    addRunOptions(command);
    addFilterOptions(command);
    addScoringOptions(command)
        .option("--rank", "add rank (1 = best) and z (reward standardised) within each run of rows sharing a prompt")
        .option("--group-by <field>", "with --rank or --top-k: group rows by this field instead of by prompt")
        .option("--resume", "with -o FILE: keep the rows FILE already holds (checked against the input) and append the rest")
        .option("--shard <K/N>", "score only rows i with i mod N == K (0-based); `nemoreward merge` joins the parts", parseShard)
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
  nemoreward score data/ -m model.gguf -o scored.parquet                a folder of Parquet files (HF layout)
  nemoreward score bon.parquet -m model.gguf --top-k 1 --min-reward -2 -o best.parquet --rejects dropped.parquet

Exit status: 0 all rows scored, 1 model or run failure, 2 usage error, 3 some rows not scored, 130 interrupted,
141 the reader closed the output early.`)
        .action(async (inputs: string[], flags: RunFlags) => {
            if (flags.groupBy !== undefined && !flags.rank && flags.topK === undefined) throw new UsageError("--group-by goes with --rank or --top-k");
            if (flags.rank && flags.resume) throw new UsageError("--rank cannot be combined with --resume: a group is written only when it is complete");
            if (flags.rank && flags.shard !== undefined) throw new UsageError("--rank cannot be combined with --shard: shards take every Nth row, splitting groups");
            setExit(await runScore(toRunOptions(inputs, flags, io), io));
        });
    return command;
}
