import { Template } from "@huggingface/jinja";
import { ModelError, RowError } from "../errors.js";
import type { Conversation } from "../conversation/toConversation.js";

/** A chat template compiled once and rendered per conversation the way Hugging Face does. */
export class ChatTemplate {
    private readonly template: Template;

    constructor(readonly source: string, private readonly specialTokens: { bos_token: string; eos_token: string }) {
        try {
            this.template = new Template(source);
        } catch (error) {
            throw new ModelError(`the chat template does not parse: ${(error as Error).message}`, { cause: error });
        }
    }

    /** The exact text the model sees: no generation prompt, since the last assistant turn is what is rated. */
    render(conversation: Conversation): string {
        try {
            return this.template.render({
                messages: conversation,
                add_generation_prompt: false,
                ...this.specialTokens,
            });
        } catch (error) {
            throw new RowError(`the chat template failed: ${(error as Error).message}`, { cause: error });
        }
    }
}
