import { describe, expect, it } from "vitest";
import { EvalTally } from "../../src/transforms/evalTally.js";

function tally(pairs: [number, string | undefined][]) {
    const t = new EvalTally();
    for (const [margin, subset] of pairs) t.add(margin, subset);
    return t;
}

describe("eval accuracy", () => {
    it("reports no accuracy or mean margin (null, not 0) when no pair could be scored", () => {
        const t = new EvalTally();
        t.addError();
        expect(t.report()).toMatchObject({ rows: 0, accuracy: null, mean_margin: null, errors: 1 });
    });

    it("counts a tie as shown and not correct", () => {
        const report = tally([[1, "a"], [0, "a"], [-1, "a"], [2, "b"]]).report();
        expect(report.rows).toBe(4);
        expect(report.ties).toBe(1);
        expect(report.accuracy).toBe(2 / 4);
        expect(report.mean_margin).toBe((1 + 0 - 1 + 2) / 4);
        expect(report.subsets).toEqual({ a: { rows: 3, accuracy: 1 / 3, ties: 1 }, b: { rows: 1, accuracy: 1, ties: 0 } });
        expect(report.categories).toBeUndefined();
        expect(report.overall).toBeUndefined();
    });

    it("weights RewardBench subsets by their official example counts, math-prm as 984", () => {
        const pairs: [number, string][] = [
            // Chat: alpacaeval-easy 2/2, mt-bench-easy 0/1, others missing
            [1, "alpacaeval-easy"], [1, "alpacaeval-easy"], [-1, "mt-bench-easy"],
            // Chat Hard: llmbar-natural 1/2 (one tie)
            [1, "llmbar-natural"], [0, "llmbar-natural"],
            // Safety: donotanswer 1/1, xstest-should-respond 0/1
            [1, "donotanswer"], [-1, "xstest-should-respond"],
            // Reasoning: math-prm 1/4, hep-python 1/1
            [1, "math-prm"], [-1, "math-prm"], [-1, "math-prm"], [-1, "math-prm"], [1, "hep-python"],
        ];
        const report = tally(pairs).report();
        const chat = (1 * 100 + 0 * 28) / (100 + 28);
        const chatHard = 0.5;
        const safety = (1 * 136 + 0 * 250) / (136 + 250);
        const reasoning = (0.25 * 984 + 1 * 164) / (984 + 164);
        expect(report.categories!["Chat"]).toBeCloseTo(chat, 12);
        expect(report.categories!["Chat Hard"]).toBeCloseTo(chatHard, 12);
        expect(report.categories!["Safety"]).toBeCloseTo(safety, 12);
        expect(report.categories!["Reasoning"]).toBeCloseTo(reasoning, 12);
        expect(report.overall).toBeCloseTo((chat + chatHard + safety + reasoning) / 4, 12);
    });

    it("reports the categories it can and no overall when a whole section is missing", () => {
        const report = tally([[1, "alpacaeval-hard"], [-1, "refusals-dangerous"]]).report();
        expect(report.categories).toEqual({ "Chat": 1, "Safety": 0 });
        expect(report.overall).toBeNull();
    });

    it("reports no categories when a subset is not RewardBench's", () => {
        expect(tally([[1, "alpacaeval-easy"], [1, "my-own-subset"]]).report().categories).toBeUndefined();
    });
});
