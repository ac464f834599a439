import { describe, expect, it } from "vitest";
import { BenchmarkTally, describeBenchmark, detectBenchmark, rewardsOf } from "../../src/eval/benchmark.js";
import { RewardBench2Tally } from "../../src/eval/rewardBench2.js";

describe("which benchmark a record is", () => {
    it("RewardBench 2 by num_correct or its subsets, RM-Bench by 3 + 3 answers and its domains (or per-domain files' subset), else RewardBench", () => {
        expect(detectBenchmark({ id: "1", prompt: "p", chosen: ["a"], rejected: ["b", "c"], num_correct: 1n, subset: "Focus" })).toBe("v2");
        expect(detectBenchmark({ id: "1", prompt: "p", chosen: ["a"], rejected: ["b"], subset: "Precise IF" })).toBe("v2");
        expect(detectBenchmark({ id: "1", prompt: "p", chosen: ["a", "b", "c"], rejected: ["d", "e", "f"], domain: "chat" })).toBe("rm-bench");
        expect(detectBenchmark({ id: "1", prompt: "p", chosen: ["a", "b", "c"], rejected: ["d", "e", "f"], subset: "safety-refuse" })).toBe("rm-bench");
        expect(detectBenchmark({ prompt: "p", chosen: "a", rejected: "b", subset: "alpacaeval-easy" })).toBe("v1");
    });

    it("reads rewards as an earlier run wrote them: numbers, lists, and a CSV cell's text", () => {
        expect(rewardsOf({ reward_chosen: [1, 2], reward_rejected: [0] }, "reward")).toEqual({ chosen: [1, 2], rejected: [0] });
        expect(rewardsOf({ r_chosen: "[1.5, 2]", r_rejected: "-3" }, "r")).toEqual({ chosen: [1.5, 2], rejected: [-3] });
        expect(rewardsOf({ reward_1: 1, reward_2: 2 }, "reward")).toEqual({ pair: [1, 2] });
        expect(rewardsOf({ reward_chosen: null, reward_rejected: 1 }, "reward")).toBeUndefined();
        expect(rewardsOf({ reward_chosen: "", reward_rejected: 1 }, "reward")).toBeUndefined();
    });
});

describe("the benchmark tally", () => {
    it("an unreadable first row is counted as an error of the benchmark the later rows tell", () => {
        const tally = new BenchmarkTally(undefined);
        tally.addError(undefined);
        tally.add({ id: "1", subset: "Math", num_correct: 1, chosen: ["a"], rejected: ["b"] }, { chosen: [2], rejected: [1] });
        expect(tally.report()).toMatchObject({ benchmark: "RewardBench 2", rows: 1, errors: 1 });
    });

    it("a row that does not fit the benchmark given is an error, counted apart, not a row", () => {
        const tally = new BenchmarkTally("rm-bench");
        tally.add({ prompt: "p", chosen: "a", rejected: "b", domain: "chat" }, { chosen: [1], rejected: [0] });
        tally.add({ prompt: "p", chosen: ["a", "b", "c"], rejected: ["d", "e", "f"], domain: "chat" }, { chosen: [1, 1, 1], rejected: [0, 0, 0] });
        expect(tally.report()).toMatchObject({ benchmark: "RM-Bench", rows: 1, errors: 1, not_fitting: 1 });
        const v2 = new BenchmarkTally("v2");
        v2.add({ id: "7", subset: "Ties", num_correct: 1 }, { chosen: [1], rejected: [0] });
        expect(v2.report()).toMatchObject({ rows: 0, errors: 1, not_fitting: 1 });
    });

    it("Ties rows without a prompt that has both its ref and tied rows: no Ties score and no overall, though no subset is missing", () => {
        const t = new RewardBench2Tally();
        for (const subset of ["Factuality", "Precise IF", "Math", "Safety", "Focus"]) t.add({ id: "x", subset, numCorrect: 1, scores: [1, 0] });
        t.add({ id: "ref:1", subset: "Ties", numCorrect: 1, scores: [1, 0] });
        const report = t.report();
        expect(report.missing).toEqual([]);
        expect(report.subsets["Ties"]).toMatchObject({ rows: 1, score: null, ref_accuracy: 1, tied_accuracy: null });
        expect(report.overall).toBeNull();
    });
});

describe("eval's report lines", () => {
    it("count in the singular when there is one: 1 row, 1 tie", () => {
        const tally = new BenchmarkTally(undefined);
        tally.add({ prompt: "p", chosen: "a", rejected: "b", subset: "alpacaeval-easy" }, { chosen: [1], rejected: [1] });
        const table = describeBenchmark(tally.report(), { maxTokens: undefined, compare: false });
        expect(table).toMatch(/^RewardBench: 1 row; /);
        expect(table).toMatch(/accuracy {4}0\.0% \(1 tie, counted as wrong\)/);
        expect(table).not.toMatch(/\b1 (rows|ties)\b/);
        const own = new BenchmarkTally(undefined);
        own.add({ prompt: "p", chosen: "a", rejected: "b" }, { chosen: [1], rejected: [1] });
        expect(describeBenchmark(own.report(), { maxTokens: undefined, compare: false })).not.toMatch(/\b1 (rows|ties|pairs)\b/);
    });
});

describe("rows that do not fit the benchmark", () => {
    it("are named by their subset or domain whatever its type (a number, a big integer, null), and counted, not thrown", () => {
        const v2 = new BenchmarkTally("v2");
        for (const subset of [7n, 3, null, "alpacaeval-easy"]) v2.add({ id: "1", subset, chosen: ["a"], rejected: ["b"] }, { chosen: [1], rejected: [0] });
        expect(v2.report()).toMatchObject({ rows: 0, not_fitting: 4, not_fitting_reasons: {
            "subset 7 is not one of RewardBench 2's": 1, "subset 3 is not one of RewardBench 2's": 1, "subset null is not one of RewardBench 2's": 1,
            'subset "alpacaeval-easy" is not one of RewardBench 2\'s': 1 } });
        const rm = new BenchmarkTally("rm-bench");
        rm.add({ domain: 12345678901234567890n, chosen: ["a", "b", "c"], rejected: ["d", "e", "f"] }, { chosen: [1, 1, 1], rejected: [0, 0, 0] });
        expect(rm.report()).toMatchObject({ rows: 0, not_fitting_reasons: { "domain 12345678901234567890 is not one of RM-Bench's": 1 } });
    });

    it("--benchmark v1: an empty subset (a CSV cell) is no subset, and fits", () => {
        const v1 = new BenchmarkTally("v1");
        v1.add({ prompt: "p", chosen: "a", rejected: "b", subset: "" }, { chosen: [1], rejected: [0] });
        expect(v1.report()).toMatchObject({ rows: 1, not_fitting: 0 });
    });
});
