import { Command } from "commander";
import type { CliIo } from "../../io.js";

export function mergeCommand(io: CliIo, setExit: (code: number) => void): Command {
    return new Command("merge")
        .summary("interleave the outputs of --shard runs back into input order")
        .argument("<output>", "merged file to write")
        .argument("<shards...>", "the shard outputs (each written with --shard K/N -o FILE)")
        .option("-q, --quiet", "print only warnings (rows not scored) and errors on stderr")
        .addHelpText("after", `
Example (four scorers on one machine: one thread each, as llama.cpp's threads spin when they share cores):
  for k in 0 1 2 3; do nemoreward score data.jsonl --shard $k/4 --threads 1 -o part-$k.jsonl & done; wait
  nemoreward merge scored.jsonl part-*.jsonl`)
        .action(async (output: string, shards: string[], flags: { quiet?: boolean }) => {
            const { runMerge } = await import("../../run/merge.js");
            setExit(await runMerge(output, shards, io, flags.quiet === true));
        });
}
