import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function filterCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("filter")
        .summary("keep rows by the rewards they already hold (a scored file): no model")
        .description(
            "Reads rows that already hold their rewards (as `score` wrote them, merged shards included, or any file with a " +
            "reward column: --field names it) and keeps those --min-reward, --max-reward and --top-k keep, as `score` " +
            "would, without loading a model: it runs at the speed of reading. Every other row goes to --rejects with " +
            "\"dropped\" saying why; a row without a reward (an error row, a missing or empty reward) is never kept: it " +
            "goes there too, and the exit status is 3. Values are written exactly as they came in, in every format `score` reads and writes.",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    return addFlags(command, "filter")
        .addHelpText("after", `
Examples:
  nemoreward filter scored.jsonl --min-reward -2 -o kept.jsonl --rejects dropped.jsonl
  nemoreward filter scored.parquet --top-k 1 --group-by prompt_id -o best.parquet
  nemoreward filter scored.csv --field score --max-reward 3 > kept.csv

Exit status: 0 every row had a reward, 2 usage error or bad input, 3 some rows had none (they went to --rejects),
75 another run is writing the output, 130 interrupted, 141 the reader closed the output early.`)
        .action(runConversations("filter", io, setExit));
}
