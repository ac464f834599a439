import { describe, expect, it } from "vitest";
import { defaultFields, toConversation } from "../../src/conversation/toConversation.js";
import { taskKind } from "../../src/conversation/scoringTask.js";

const joke = [
    { role: "user", content: "Hi" },
    { role: "assistant", content: "Hello!" },
    { role: "user", content: "A joke?" },
    { role: "assistant", content: "Knock knock." },
];

describe("toConversation", () => {
    it("reads OpenAI/HF messages, joining text content parts", () => {
        expect(toConversation({ messages: [{ role: "user", content: [{ type: "text", text: "a" }, { type: "text", text: "b" }] }, { role: "assistant", content: "c" }] }))
            .toEqual([{ role: "user", content: "ab" }, { role: "assistant", content: "c" }]);
    });

    it("reads ShareGPT conversations, mapping human/gpt/system to user/assistant/system", () => {
        const conversations = [{ from: "system", value: "Be kind." }, { from: "human", value: "Hi" }, { from: "gpt", value: "Hello!" }];
        expect(toConversation({ conversations })).toEqual([
            { role: "system", content: "Be kind." }, { role: "user", content: "Hi" }, { role: "assistant", content: "Hello!" },
        ]);
    });

    it("reads prompt + response with an optional system message", () => {
        expect(toConversation({ system: "Brief.", prompt: "Q?", response: "A." })).toEqual([
            { role: "system", content: "Brief." }, { role: "user", content: "Q?" }, { role: "assistant", content: "A." },
        ]);
        expect(toConversation({ system: "", prompt: "Q?", response: "A." })).toHaveLength(2);
    });

    it("splits a HelpSteer2 multi-turn prompt into its turns; the response is the last assistant turn", () => {
        const prompt = "Hi\n<extra_id_1>Assistant\nHello!\n<extra_id_1>User\nA joke?";
        expect(toConversation({ prompt, response: "Knock knock." })).toEqual(joke);
    });

    it("reads a message list stored as a JSON string (a CSV cell)", () => {
        expect(toConversation({ messages: JSON.stringify(joke) })).toEqual(joke);
    });

    it("reads a prompt given as a JSON list of messages (a CSV cell), in OpenAI or ShareGPT form", () => {
        expect(toConversation({ prompt: JSON.stringify(joke.slice(0, 3)), response: "Knock knock." })).toEqual(joke);
        const shareGpt = [{ from: "human", value: "Hi" }, { from: "gpt", value: "Hello!" }, { from: "human", value: "A joke?" }];
        expect(toConversation({ prompt: ` ${JSON.stringify(shareGpt)}`, response: "Knock knock." })).toEqual(joke);
    });

    it.each([
        '[{"name": "a"}]',
        '[{"name": "a"}, {"name": "b"}]\nSort this JSON by name.',
        '[{"role": "user", "content": "x"}, 3]',
        "[{ not JSON at all }]",
        '[{"from": "NYC", "to": "LA"}]',
        '[{"role": "admin", "name": "bob"}]',
        "[]",
    ])("keeps a prompt that is not a message list as the user's text: %j", (prompt) => {
        expect(toConversation({ prompt, response: "ok" })).toEqual([{ role: "user", content: prompt }, { role: "assistant", content: "ok" }]);
    });

    it("uses the field names it is given", () => {
        const fields = { ...defaultFields, prompt: "instruction", response: "output" };
        expect(toConversation({ instruction: "Q?", output: "A." }, fields)).toEqual([
            { role: "user", content: "Q?" }, { role: "assistant", content: "A." },
        ]);
        expect(toConversation({ chat: joke }, { ...defaultFields, messages: "chat" })).toEqual(joke);
    });

    it.each([
        [{ messages: [{ role: "user", content: "Q?" }] }, /last message of "messages" is from "user"/],
        [{ messages: [] }, /not a non-empty list/],
        [{ messages: "{oops" }, /not a JSON list/],
        [{ conversations: [{ from: "robot", value: "x" }] }, /from "robot"/],
        [{ messages: [{ role: "user" }, { role: "assistant", content: 3 }] }, /"messages\[0\]" has no text content/],
        [{ prompt: "Q?" }, /"response" is missing/],
        [{ text: "hello" }, /no conversation: expected "messages", "conversations" or "prompt" \+ "response"/],
    ])("rejects %j with a reason", (record, reason) => {
        expect(() => toConversation(record as Record<string, unknown>)).toThrow(reason);
    });

    it("reads the shape whose fields a row holds: a null field of another shape (a Parquet column of other rows) is no part of it", () => {
        const pair = [{ role: "user", content: "Q" }, { role: "assistant", content: "A" }];
        expect(toConversation({ messages: null, prompt: "Q", response: "A" })).toEqual(pair);
        expect(toConversation({ conversations: null, messages: null, prompt: "Q", response: "A" })).toEqual(pair);
        expect(toConversation({ prompt: null, response: null, system: null, messages: pair })).toEqual(pair);
        expect(toConversation({ messages: null, prompt: null, response: null, instruction: "Q", input: null, output: "A" })).toEqual(pair);
        // a null beside no other shape is that shape's error
        expect(() => toConversation({ messages: null })).toThrow(/"messages" is not a non-empty list of messages/);
        expect(() => toConversation({ messages: null, prompt: "Q", response: null })).toThrow(/"response" is null: no text to score/);
        expect(() => toConversation({ prompt: null, response: null })).toThrow(/"prompt" is null/);
    });

    it("a task's kind is that of the fields the row holds: a kind whose fields are all null in the row (columns of other rows) is not its kind", () => {
        const kind = (record: Record<string, unknown>) => taskKind(Object.keys(record), record);
        expect(kind({ prompt: "Q", response: "A", responses: null })).toBe("single");
        expect(kind({ prompt: "Q", response: null, responses: ["a", "b"] })).toBe("bestOfN");
        expect(kind({ prompt: "Q", response: "A", chosen: null, rejected: null, response_1: null, response_2: null })).toBe("single");
        expect(kind({ prompt: "Q", chosen: "a", rejected: null })).toBe("chosenRejected"); // one of its fields: its kind, and its error
        expect(kind({ prompt: "Q", chosen: ["a"], rejected: ["b"] })).toBe("candidates");
        expect(taskKind(["prompt", "responses"])).toBe("bestOfN"); // a CSV header tells the kind
    });
});
