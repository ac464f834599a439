import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import type { Log } from "../log.js";
import { ChatTemplate } from "./chatTemplate.js";
import { llama31Template } from "./llama31Template.js";

/** The template to render with: `--chat-template FILE`, else the GGUF's own, else Llama 3.1 with a warning. */
export function loadTemplate(
    model: { chatTemplate: string | undefined; bosText: string; eosText: string },
    templatePath: string | undefined,
    log: Log,
): ChatTemplate {
    let source = model.chatTemplate;
    if (templatePath !== undefined) {
        try {
            source = readFileSync(templatePath, "utf8");
        } catch (error) {
            throw new UsageError(`cannot read chat template ${templatePath}: ${(error as Error).message}`);
        }
    } else if (source === undefined) {
        log.warn("the model has no chat template; using the Llama 3.1 template (--chat-template FILE to choose)");
        source = llama31Template;
    }
    return new ChatTemplate(source, { bos_token: model.bosText, eos_token: model.eosText });
}
