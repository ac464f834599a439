import { ModelError } from "../errors.js";
import type { Log } from "../log.js";
import { ChatTemplate } from "./chatTemplate.js";
import { llama31Template } from "./llama31Template.js";

/** The template to render with: `--chat-template FILE`'s text, else the GGUF's own, else Llama 3.1 with a warning. */
export function loadTemplate(
    model: { chatTemplate: string | undefined; bosText: string; eosText: string },
    fileSource: string | undefined,
    log: Log,
): ChatTemplate {
    let source = fileSource ?? model.chatTemplate;
    if (source === undefined) {
        log.warn("the model has no chat template; using the Llama 3.1 template (--chat-template FILE to choose)");
        source = llama31Template;
    }
    const template = new ChatTemplate(source, { bos_token: model.bosText, eos_token: model.eosText });
    // A template that fails on the plainest conversation would fail every row: that is the model's fault, not the data's.
    try {
        template.render([{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi" }]);
    } catch (error) {
        throw new ModelError(`${(error as Error).message} (on a plain user/assistant conversation)`, { cause: error });
    }
    return template;
}
