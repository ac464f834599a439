import { Command } from "commander";
import type { CliIo } from "../../io.js";
import { addFlags } from "../../plan/flags.js";
import { runConversations } from "./runConversations.js";

export function renderCommand(io: CliIo, setExit: (code: number) => void): Command {
    const command = new Command("render")
        .summary("show the exact text and token count the model scores for each conversation")
        .description(
            "Writes each row plus \"rendered\" (the conversation rendered with the chat template, as the model sees " +
            "it) and \"n_tokens\". Loads only the model's vocabulary, so it is fast on large models.",
        )
        .argument("[inputs...]", "input files; '-' or nothing reads standard input");
    return addFlags(command, "render")
        .addHelpText("after", `
Examples:
  nemoreward render data.jsonl -m model.gguf | jq -r .rendered
  nemoreward render data.jsonl -m model.gguf | jq 'select(.n_tokens > 4096)'    rows too long to score`)
        .action(runConversations("render", io, setExit));
}
