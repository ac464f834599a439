import { RowError } from "../errors.js";
import type { Conversation } from "../conversation/toConversation.js";

/**
 * Drops the oldest exchanges after the system message (from one user turn to the next) until every conversation
 * of the task fits, so that what is kept still begins with a user turn; the final user and assistant turns are
 * never cut. All conversations of a task (the responses to one prompt) lose the same turns, so that their rewards
 * stay comparable.
 *
 * The cut is the first that fits, found by bisection: a conversation with fewer turns is never longer (the template
 * writes each turn as its own block), and each try renders the task again, so trying every cut in turn was quadratic
 * (2,000 messages: 194 s).
 */
export function truncate<Prepared extends { tokens?: readonly unknown[] }>(conversations: Conversation[], prepare: (c: Conversation) => Prepared,
    contextSize: number): Prepared[] {
    const head = conversations[0]![0]?.role === "system" ? 1 : 0;
    const cuts: number[] = [];
    for (let cut = head + 1; cut < conversations[0]!.length; cut++)
        if (conversations.every((c) => c[cut]?.role === "user")) cuts.push(cut);
    let fitting: Prepared[] | undefined;
    // the first cut that fits is in cuts[low..high], or there is none when high is cuts.length
    let low = 0, high = cuts.length;
    while (low < high) {
        const middle = (low + high) >> 1;
        const prepared = conversations.map((conversation) => prepare([...conversation.slice(0, head), ...conversation.slice(cuts[middle])]));
        if (prepared.every((p) => p.tokens !== undefined && p.tokens.length <= contextSize)) [high, fitting] = [middle, prepared];
        else low = middle + 1;
    }
    if (fitting === undefined) throw new RowError(`even the final turns are over the ${contextSize}-token context (--context-size)`);
    return fitting;
}
