/**
 * Numbers published for the model, kept as data with their source, for `eval --compare published` and
 * `nemoreward check`. Values in percent as the leaderboards print them; the keys are the leaderboards' columns.
 */
export type PublishedRow = { model: string; values: Record<string, number> };

export const published: Record<"v1" | "v2" | "rm-bench", { source: string; rows: PublishedRow[] }> = {
    "v1": {
        source: "NVIDIA's model card for Llama-3.1-Nemotron-70B-Reward (RewardBench table, bf16), as the project's seed gives it",
        rows: [{ model: "Llama-3.1-Nemotron-70B-Reward (bf16)", values: { "Score": 94.1, "Chat": 97.5, "Chat Hard": 85.8, "Safety": 95.1, "Reasoning": 98.1 } }],
    },
    "v2": {
        source: "none: no RewardBench 2 numbers are published for Llama-3.1-Nemotron-70B-Reward",
        rows: [],
    },
    "rm-bench": {
        source: "NVIDIA's model cards for Llama-3.3-Nemotron-70B-Reward (RM-Bench table, \"as of 15 May 2025\"); their easy/normal/hard columns are not used, as they do not average to the overall",
        rows: [
            { model: "Llama-3.1-Nemotron-70B-Reward", values: { "Chat": 70.7, "Math": 64.3, "Code": 57.4, "Safety": 90.3, "Avg": 70.7 } },
            { model: "Llama-3.3-Nemotron-70B-Reward", values: { "Chat": 75.4, "Math": 84.5, "Code": 69.3, "Safety": 90.4, "Avg": 79.9 } },
        ],
    },
};

/** The model card's check: two answers to one question and the rewards the bf16 model gives them. */
export const modelCardCheck = {
    source: "Hugging Face model card of nvidia/Llama-3.1-Nemotron-70B-Reward-HF (bf16, transformers)",
    prompt: "What is 1+1?",
    answers: [
        { response: "1+1=2", reward: -3.28125 },
        { response: "1+1=3", reward: -4.28125 },
    ],
} as const;
