import { Command, InvalidArgumentError } from "commander";
import { addRunOptions, addScoringOptions, toRunOptions, type RunFlags } from "../options.js";
import { runPairs } from "../../score/runPairs.js";
import type { CliIo } from "../../io.js";
import { UsageError } from "../../errors.js";
import { formatOfPath } from "../../output/formats.js";

function margin(value: string): number {
    const n = Number(value);
    if (value.trim() === "" || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError("expected a number of at least 0.");
    return n;
}

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
    addRunOptions(command, "write the pairs (JSONL) here instead of stdout");
    addScoringOptions(command)
        .option("--min-margin <x>", "keep only pairs whose rewards differ by at least this much (a tie is never a pair)", margin, 0)
        .option("--group-by <field>", "group rows by this field instead of by prompt")
        .addHelpText("after", `
Examples:
  nemoreward pairs samples.jsonl -m model.gguf > dpo.jsonl
  nemoreward pairs samples.jsonl -m model.gguf --min-margin 1.5 -o dpo.jsonl`)
        .action(async (inputs: string[], flags: RunFlags & { minMargin: number }) => {
            const format = flags.output === undefined ? undefined : formatOfPath(flags.output);
            if (format !== undefined && format !== "jsonl") throw new UsageError(`pairs writes JSONL, not ${format}: name -o FILE .jsonl`);
            setExit(await runPairs({ ...toRunOptions(inputs, flags, io), minMargin: flags.minMargin }, io));
        });
    return command;
}
