import { Command } from "commander";
import { addModelOptions, toRunOptions, type ModelFlags } from "../options.js";
import { runRender, type Io } from "../../score/runPipeline.js";

export function renderCommand(io: Io & { stdinIsTTY: boolean }, setExit: (code: number) => void): Command {
    const command = new Command("render")
        .summary("print each conversation with the exact text and token count the model scores")
        .description(
            "Prints each input line plus \"rendered\" (the conversation rendered with the chat template, as the\n" +
            "model sees it) and \"n_tokens\". Loads only the model's vocabulary, so it is fast on large models.",
        )
        .argument("[inputs...]", "JSONL files; '-' or nothing reads standard input");
    addModelOptions(command)
        .addHelpText("after", `
Example:
  nemoreward render data.jsonl -m model.gguf | jq -r .rendered`)
        .action(async (inputs: string[], flags: ModelFlags) => {
            setExit(await runRender(toRunOptions(inputs, flags, io.stdinIsTTY), io));
        });
    return command;
}
