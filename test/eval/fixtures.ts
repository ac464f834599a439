/** Benchmark records in the published shapes, built from a fixed seed: every run builds the same files. */

/** Deterministic words, so that every run builds the same files. */
function words(seed: number) {
    const vocabulary = "alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu".split(" ");
    let s = seed;
    const next = () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
    return (n: number) => Array.from({ length: n }, () => vocabulary[Math.floor(next() * vocabulary.length)]).join(" ");
}

/** RewardBench 2 records in allenai/reward-bench-2's shape: every subset, Ties with its ref:N and tied:N prompts. */
export function v2Records(perSubset: number, seed = 3) {
    const text = words(seed);
    const records: object[] = [];
    let id = 0;
    for (const subset of ["Factuality", "Precise IF", "Math", "Safety", "Focus"]) {
        for (let i = 0; i < perSubset; i++) {
            const chosen = [text(3 + (i % 4))];
            // an answer repeated word for word: an exact tie with the chosen one in some rows
            const rejected = [text(4), i % 5 === 0 ? chosen[0]! : text(2 + (i % 3)), text(5)];
            records.push({ id: String(id++), prompt: text(6), chosen, rejected, num_correct: 1, num_incorrect: 3, total_completions: 4, subset });
        }
    }
    for (let p = 0; p < Math.max(2, Math.floor(perSubset / 3)); p++) {
        const prompt = text(5);
        records.push({ id: `ref:${p}`, prompt, chosen: [text(3)], rejected: [text(3), text(4)], num_correct: 1, num_incorrect: 2, total_completions: 3, subset: "Ties" });
        const correct = Array.from({ length: 1 + (p % 3) }, () => text(3));
        records.push({ id: `tied:${p}`, prompt, chosen: correct, rejected: [text(3), text(2)], num_correct: correct.length, num_incorrect: 2, total_completions: correct.length + 2, subset: "Ties" });
    }
    return records as { id: string; prompt: string; chosen: string[]; rejected: string[]; num_correct: number; subset: string }[];
}

/** RM-Bench records in THU-KEG/RM-Bench's shape: three chosen, three rejected, a domain. */
export function rmRecords(perDomain: number, seed = 5) {
    const text = words(seed);
    const records: { id: string; prompt: string; chosen: string[]; rejected: string[]; domain: string }[] = [];
    for (const domain of ["chat", "code", "math", "safety-refuse", "safety-response"])
        for (let i = 0; i < perDomain; i++) {
            const base = text(3);
            records.push({
                id: `${domain}/${i}`, prompt: text(5), domain,
                chosen: [base, `${base} ${text(3)}`, `**${base}** ${text(3)}`],
                rejected: [text(3), `${text(4)} ${text(2)}`, i % 4 === 0 ? base : `**${text(3)}** ${text(2)}`],
            });
        }
    return records;
}

