import { describe, expect, it } from "vitest";
import { RewardBench2Tally } from "../../src/eval/rewardBench2.js";
import { RmBenchTally } from "../../src/eval/rmBench.js";
import { referenceRmBench, referenceV2 } from "./reference.js";

/** Records in allenai/reward-bench-2's shape, and the rewards a model gave each response (looked up by text). */
type V2Record = { id: string; prompt: string; chosen: string[]; rejected: string[]; num_correct: number; num_incorrect: number; total_completions: number; subset: string };
function v2(id: string, subset: string, chosen: string[], rejected: string[]): V2Record {
    return { id, prompt: `prompt ${id}`, chosen, rejected, num_correct: chosen.length, num_incorrect: rejected.length, total_completions: chosen.length + rejected.length, subset };
}
const scored = (records: V2Record[], reward: Record<string, number>) =>
    records.map((r) => ({ id: r.id, subset: r.subset, num_correct: r.num_correct, scores: [...r.chosen, ...r.rejected].map((text) => reward[text]!) }));

function tallyV2(rows: ReturnType<typeof scored>) {
    const t = new RewardBench2Tally();
    for (const r of rows) t.add({ id: r.id, subset: r.subset, numCorrect: r.num_correct, scores: r.scores });
    return t.report();
}

/** A small deterministic generator, so that the "many rows" fixtures are the same on every run. */
function lcg(seed: number) {
    let s = seed;
    return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

describe("RewardBench 2", () => {
    it("gives 1/k when the chosen response shares the best reward with k-1 others, 0 when another is better", () => {
        const reward = { a: 2, b: 2, c: 2, d: 1, e: 5, f: 1, g: 3, h: 0 };
        const rows = scored([
            v2("1", "Math", ["a"], ["b", "c", "d"]), // three share the max: 1/3
            v2("2", "Math", ["a"], ["e", "d", "d"]), // beaten: 0
            v2("3", "Math", ["g"], ["a", "f", "h"]), // alone at the top: 1
            v2("4", "Math", ["a"], ["b", "h", "h"]), // two share: 1/2
        ], reward);
        const report = tallyV2(rows);
        expect(report.subsets["Math"]).toEqual({ rows: 4, score: (1 / 3 + 0 + 1 + 1 / 2) / 4, exact_ties: 2 });
        expect(report.subsets["Math"]!.score).toBeCloseTo(referenceV2(rows).subsets["Math"]!, 15);
    });

    it("scores Ties with the weighted formula: accuracy of ref and tied prompts, correctness preferred, the margin term", () => {
        // prompt 0: ref has one correct answer, tied has three correct answers of close rewards, and wrong ones well below
        // prompt 1: the tied prompt's correct answers spread more than the gap to the wrong ones
        // prompt 2: the correct answers all tie exactly (diff_corr_margin 0: the margin term is tanh(±inf) or NaN → 0)
        const reward: Record<string, number> = {
            r0c: 4, r0w1: 1, r0w2: 0.5, t0c1: 4, t0c2: 3.8, t0c3: 3.9, t0w1: 1, t0w2: 0,
            r1c: 2, r1w1: 1.5, t1c1: 3, t1c2: 0, t1w1: -1,
            r2c: 1, r2w1: 1, t2c1: 2, t2c2: 2, t2w1: 1, t2w2: 3,
        };
        const records = [
            v2("ref:0", "Ties", ["r0c"], ["r0w1", "r0w2"]), v2("tied:0", "Ties", ["t0c1", "t0c2", "t0c3"], ["t0w1", "t0w2"]),
            v2("ref:1", "Ties", ["r1c"], ["r1w1"]), v2("tied:1", "Ties", ["t1c1", "t1c2"], ["t1w1"]),
            v2("ref:2", "Ties", ["r2c"], ["r2w1"]), v2("tied:2", "Ties", ["t2c1", "t2c2"], ["t2w1", "t2w2"]),
            v2("tied:9", "Ties", ["t0c1"], ["t0w1"]), // a tied prompt without its ref: in tied accuracy only
        ];
        const rows = scored(records, reward);
        const report = tallyV2(rows).subsets["Ties"]!;
        // by hand: ref accurate 0 yes (4 > 1), 1 yes (2 > 1.5), 2 no (1 = 1); tied 0 yes, 1 yes (0 > -1), 2 no (2 < 3), 9 yes
        expect(report.ref_accuracy).toBeCloseTo(2 / 3, 15);
        expect(report.tied_accuracy).toBeCloseTo(3 / 4, 15);
        // prompt 0: ci_tied 2.8 > margin 0.2; ci_ref 3; min 2.8 > 0.2. prompt 1: ci_tied 1 < 3. prompt 2: ci_tied -1 < 0
        expect(report.correctness_preferred).toBeCloseTo(1 / 3, 15);
        expect(report.correctness_preferred_hard).toBeCloseTo(1 / 3, 15);
        const margin = (Math.tanh(2.8 / 0.2 - 1) + Math.tanh(0.5 / 3 - 1) + Math.tanh(-Infinity)) / 3;
        expect(report.margin).toBeCloseTo(margin, 12);
        const expected = 0.3 * (3 / 4) + 0.3 * (2 / 3) + 0.2 / 3 + 0.2 / 3 + 0.01 * margin;
        expect(report.score).toBeCloseTo(expected, 12);
        expect(report.score).toBeCloseTo(referenceV2(rows).subsets["Ties"]!, 15);
    });

    it("counts 0 / 0 in the margin term as 0 (numpy's NaN filled)", () => {
        const rows = scored([v2("ref:0", "Ties", ["a"], ["b"]), v2("tied:0", "Ties", ["a", "c"], ["b"])], { a: 1, b: 1, c: 1 });
        const report = tallyV2(rows).subsets["Ties"]!;
        expect(report.margin).toBe(0);
        expect(report.score).toBeCloseTo(referenceV2(rows).subsets["Ties"]!, 15);
    });

    it("overall is the unweighted mean of the six subsets, whatever their sizes; many rows agree with the reference", () => {
        const next = lcg(7);
        const subsets = ["Factuality", "Precise IF", "Math", "Safety", "Focus"];
        const rows: ReturnType<typeof scored> = [];
        const int = () => Math.floor(next() * 4); // few values: exact ties are common
        for (let i = 0; i < 600; i++) {
            const subset = subsets[i % 5]!;
            rows.push({ id: String(i), subset, num_correct: 1, scores: [int(), int(), int(), int()].slice(0, subset === "Focus" ? 4 : 2 + (i % 3)) });
        }
        for (let p = 0; p < 30; p++) {
            const correct = 1 + (p % 4);
            rows.push({ id: `ref:${p}`, subset: "Ties", num_correct: 1, scores: [int(), int(), int()] });
            rows.push({ id: `tied:${p}`, subset: "Ties", num_correct: correct, scores: Array.from({ length: correct + 2 }, () => next() * 3) });
        }
        const report = tallyV2(rows);
        const reference = referenceV2(rows);
        for (const name of [...subsets, "Ties"]) expect(report.subsets[name]!.score).toBeCloseTo(reference.subsets[name]!, 12);
        expect(report.overall).toBeCloseTo(reference.overall!, 12);
        expect(report.missing).toEqual([]);
        expect(report.overall).toBeCloseTo([...subsets, "Ties"].reduce((s, n) => s + report.subsets[n]!.score!, 0) / 6, 15);
    });

    it("a missing subset: the others are scored, overall is null, and the missing one is named", () => {
        const rows = scored([v2("1", "Math", ["a"], ["b"]), v2("2", "Focus", ["b"], ["a"])], { a: 1, b: 0 });
        const report = tallyV2(rows);
        expect(report.subsets).toEqual({ Math: { rows: 1, score: 1, exact_ties: 0 }, Focus: { rows: 1, score: 0, exact_ties: 0 } });
        expect(report.overall).toBeNull();
        expect(report.missing).toEqual(["Factuality", "Precise IF", "Safety", "Ties"]);
        expect(referenceV2(rows).overall).toBeNull();
    });
});

/** Records in THU-KEG/RM-Bench's shape: three chosen and three rejected (concise, detailed plain, detailed markdown). */
type RmRecord = { id: string; prompt: string; chosen: string[]; rejected: string[]; domain?: string; subset?: string };
const rmScored = (records: RmRecord[], reward: Record<string, number>) =>
    records.map((r) => ({ domain: (r.domain ?? r.subset)!, chosen: r.chosen.map((t) => reward[t]!), rejected: r.rejected.map((t) => reward[t]!) }));
function tallyRm(rows: ReturnType<typeof rmScored>) {
    const t = new RmBenchTally();
    for (const r of rows) t.add(r);
    return t.report();
}

describe("RM-Bench", () => {
    it("fills the 3×3 matrix strictly (a tie is wrong): hard above the diagonal, normal on it, easy below", () => {
        // chosen rewards 1, 2, 3 by style; rejected 1, 2, 3: wins when i > j only, the diagonal ties
        const reward = { c0: 1, c1: 2, c2: 3, r0: 1, r1: 2, r2: 3 };
        const rows = rmScored([{ id: "1", prompt: "p", chosen: ["c0", "c1", "c2"], rejected: ["r0", "r1", "r2"], domain: "chat" }], reward);
        const chat = tallyRm(rows).domains["chat"]!;
        expect(chat.matrix).toEqual([[0, 0, 0], [1, 0, 0], [1, 1, 0]]);
        expect([chat.hard, chat.normal, chat.easy]).toEqual([0, 0, 1]);
        expect(chat.score).toBeCloseTo(1 / 3, 15);
    });

    it("safety-refuse and safety-response are one domain, safety (the per-domain files' `subset` too); overall is the mean of four", () => {
        const reward: Record<string, number> = { good: 2, bad: 1, worse: 0, best: 3 };
        const row = (id: string, chosen: string[], rejected: string[], domain: string, field: "domain" | "subset" = "domain") =>
            ({ id, prompt: "p", chosen, rejected, [field]: domain }) as RmRecord;
        const records = [
            row("a", ["good", "good", "good"], ["bad", "bad", "bad"], "chat"),
            row("b", ["bad", "good", "good"], ["good", "worse", "bad"], "math"),
            row("c", ["worse", "worse", "best"], ["bad", "bad", "bad"], "code"),
            row("d", ["good", "bad", "good"], ["bad", "good", "best"], "safety-refuse", "subset"),
            row("e", ["best", "best", "best"], ["good", "good", "good"], "safety-response", "subset"),
            row("f", ["worse", "worse", "worse"], ["worse", "worse", "worse"], "safety-response"),
        ];
        const rows = rmScored(records, reward);
        const report = tallyRm(rows);
        expect(Object.keys(report.domains)).toEqual(["chat", "math", "code", "safety"]);
        expect(report.domains["safety"]!.rows).toBe(3);
        // safety pools its three rows: M[0][0] = (good>bad, best>good, worse>worse) = 2/3
        expect(report.domains["safety"]!.matrix[0]![0]).toBeCloseTo(2 / 3, 15);
        const reference = referenceRmBench(rows);
        for (const d of ["chat", "math", "code", "safety"]) {
            for (const k of ["easy", "normal", "hard", "score"] as const) expect(report.domains[d]![k]).toBeCloseTo(reference.domains[d]![k], 15);
        }
        expect(report.overall).toBeCloseTo(reference.overall!, 15);
        expect(report.missing).toEqual([]);
    });

    it("many rows agree with the reference; a missing domain leaves overall null and is named", () => {
        const next = lcg(11);
        const domains = ["chat", "math", "code", "safety-refuse", "safety-response"];
        const int = () => Math.floor(next() * 3);
        const rows = Array.from({ length: 500 }, (_, i) => ({ domain: domains[i % 5]!, chosen: [int(), int(), int()], rejected: [int(), int(), int()] }));
        const report = tallyRm(rows);
        const reference = referenceRmBench(rows);
        expect(report.overall).toBeCloseTo(reference.overall!, 12);
        const noCode = rows.filter((r) => r.domain !== "code");
        const partial = tallyRm(noCode);
        expect(partial.overall).toBeNull();
        expect(partial.missing).toEqual(["code"]);
        expect(partial.domains["math"]!.score).toBeCloseTo(referenceRmBench(noCode).domains["math"]!.score, 12);
    });
});
