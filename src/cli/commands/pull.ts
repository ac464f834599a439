import { Command } from "commander";
import { defaultQuantization, defaultRepository } from "../../model/modelHome.js";
import type { CliIo } from "../../io.js";

export function pullCommand(io: CliIo): Command {
    return new Command("pull")
        .summary("download a reward model GGUF into the cache and print its path")
        .argument("[ref]", `a quantisation of ${defaultRepository} (default ${defaultQuantization}), hf:owner/repo:QUANT, or an https URL`)
        .option("-q, --quiet", "print only warnings and errors on stderr")
        .addHelpText("after", `
Files go to $NEMOREWARD_HOME/models (default ~/.cache/nemoreward/models); an interrupted download resumes.
The pulled model becomes the default for score, render and info.
Then \`nemoreward check\` scores the model card's two examples and compares them with its bf16 rewards.

Examples:
  nemoreward pull                 ${defaultRepository}, ${defaultQuantization} (42.5 GB)
  nemoreward pull Q5_K_M
  nemoreward pull hf:owner/repo:Q8_0`)
        .action(async (ref: string | undefined, flags: { quiet?: boolean }) => {
            const { pullModel } = await import("../../model/pullModel.js");
            const { createLog } = await import("../../log.js");
            const log = createLog(io.stderr, { quiet: flags.quiet });
            const path = await pullModel(ref, log);
            io.stdout.write(`${path}\n`);
            log.info("check it against the model card's bf16 rewards: nemoreward check");
        });
}
