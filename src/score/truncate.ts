import { RowError } from "../errors.js";
import type { Conversation } from "../conversation/toConversation.js";
import type { Prepared } from "./runPipeline.js";

/**
 * Drops the oldest exchanges after the system message (from one user turn to the next) until every conversation
 * of the task fits, so that what is kept still begins with a user turn; the final user and assistant turns are
 * never cut. All conversations of a task (the responses to one prompt) lose the same turns, so that their rewards
 * stay comparable.
 */
export function truncate(conversations: Conversation[], prepare: (c: Conversation) => Prepared, contextSize: number): Prepared[] {
    const head = conversations[0]![0]?.role === "system" ? 1 : 0;
    for (let cut = head + 1; cut < conversations[0]!.length; cut++) {
        if (!conversations.every((c) => c[cut]?.role === "user")) continue;
        const prepared = conversations.map((conversation) => prepare([...conversation.slice(0, head), ...conversation.slice(cut)]));
        if (prepared.every((p) => p.tokens.length <= contextSize)) return prepared;
    }
    throw new RowError(`even the final turns are over the ${contextSize}-token context (--context-size)`);
}
