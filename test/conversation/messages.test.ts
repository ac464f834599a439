import { describe, expect, it } from "vitest";
import { toScoringTask } from "../../src/conversation/scoringTask.js";
import { defaultFields, toConversation } from "../../src/conversation/toConversation.js";

// a row's error names the exact field and element at fault, each quoted the same way
const fault = (record: Record<string, unknown>) => {
    try {
        toScoringTask(record, defaultFields);
    } catch (error) {
        return (error as Error).message;
    }
    return "no error";
};

describe("the messages of records that cannot be scored", () => {
    it.each([
        [{ prompt: "p", chosen: ["a", null], rejected: ["b"] }, '"chosen[1]" is null: no text to score'],
        [{ prompt: "p", chosen: ["a"], rejected: ["b", 3] }, '"rejected[1]" is not a string'],
        [{ prompt: "p", chosen: ["a", "b"], rejected: "c" }, '"chosen" is a list of answers and "rejected" is not: give both as lists, or both as one answer'],
        [{ prompt: "p", chosen: "a", rejected: null }, '"rejected" is null: no text to score'],
        [{ prompt: "p", chosen: "a" , rejected: 5 }, '"rejected" is neither a string nor a list of messages'],
        [{ prompt: "p", response_1: "a", response_2: null, preference_strength: 1 }, '"response_2" is null: no text to score'],
        [{ prompt: "p", responses: ["a", null, "c"] }, '"responses[1]" is null: no text to score'],
        [{ chosen: [{ role: "user", content: "q" }, { role: "assistant", content: "a" }], rejected: [{ role: "user", content: "q" }] },
            'the last message of "rejected" is from "user", not "assistant": nothing to score'],
        [{ chosen: [{ role: "user", content: "q" }, { role: "assistant", content: null }], rejected: [{ role: "user", content: "q" }, { role: "assistant", content: "b" }] },
            '"chosen[1]" has no text content'],
        [{ chosen: [{ role: "user", content: "q" }, 7], rejected: [{ role: "user", content: "q" }, { role: "assistant", content: "b" }] },
            '"chosen[1]" is not an object'],
        [{ prompt: "p", response: null }, '"response" is null: no text to score'],
        [{ prompt: null, response: "x" }, '"prompt" is null: no text to score'],
    ])("%j: %s", (record, message) => {
        expect(fault(record)).toBe(message);
    });

    it("a message list of one conversation names its field too", () => {
        expect(() => toConversation({ messages: [{ role: "user", content: "Q?" }] })).toThrow('the last message of "messages" is from "user", not "assistant": nothing to score');
        expect(() => toConversation({ conversations: [{ from: "gpt" }] })).toThrow('"conversations[0]" has no text content');
        expect(() => toConversation({ messages: [{ content: "x" }] })).toThrow('"messages[0]" has neither "role" nor "from"');
    });
});
