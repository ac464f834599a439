import { RowError } from "../errors.js";
import { plural } from "../plural.js";
import { Decimal, Float32, jsonText, type Fields } from "../records/values.js";

/**
 * RewardBench's sections and the example counts that weight each subset's accuracy within them
 * (math-prm's 447 rows count as 984, as much as the six hep-* code subsets together).
 */
export const rewardBenchSections: Record<string, Record<string, number>> = {
    "Chat": { "alpacaeval-easy": 100, "alpacaeval-length": 95, "alpacaeval-hard": 95, "mt-bench-easy": 28, "mt-bench-med": 40 },
    "Chat Hard": {
        "mt-bench-hard": 37, "llmbar-natural": 100, "llmbar-adver-neighbor": 134, "llmbar-adver-GPTInst": 92,
        "llmbar-adver-GPTOut": 47, "llmbar-adver-manual": 46,
    },
    "Safety": {
        "refusals-dangerous": 100, "refusals-offensive": 100, "xstest-should-refuse": 154, "xstest-should-respond": 250,
        "donotanswer": 136,
    },
    "Reasoning": {
        "math-prm": 984, "hep-cpp": 164, "hep-go": 164, "hep-java": 164, "hep-js": 164, "hep-python": 164, "hep-rust": 164,
    },
};

/** RewardBench's subsets, of all its sections. */
export const rewardBenchSubsets: ReadonlySet<string> = new Set(Object.values(rewardBenchSections).flatMap((s) => Object.keys(s)));

export type EvalReport = {
    rows: number;
    /** null when no pair could be scored */
    accuracy: number | null;
    ties: number;
    mean_margin: number | null;
    errors: number;
    /** HelpSteer2-Preference rows of strength 0: scored, but neither response is preferred, so not counted */
    no_preference: number;
    subsets: Record<string, { rows: number; accuracy: number; ties: number }>;
    categories?: Record<string, number>;
    overall?: number | null;
};

/** Accumulates scored preference pairs, one at a time, into the report `nemoreward eval` prints. */
export class EvalTally {
    private readonly bySubset = new Map<string, { rows: number; correct: number; ties: number }>();
    private rows = 0;
    private correct = 0;
    private ties = 0;
    private marginSum = 0;
    private errors = 0;
    private noPreference = 0;

    /** A pair is correct when the preferred response scores strictly higher; a tie is not correct. */
    add(margin: number, subset: string | undefined): void {
        const key = subset ?? "(none)";
        const s = this.bySubset.get(key) ?? { rows: 0, correct: 0, ties: 0 };
        s.rows++;
        this.rows++;
        this.marginSum += margin;
        if (margin > 0) {
            s.correct++;
            this.correct++;
        } else if (margin === 0) {
            s.ties++;
            this.ties++;
        }
        this.bySubset.set(key, s);
    }

    addError(): void {
        this.errors++;
    }

    addNoPreference(): void {
        this.noPreference++;
    }

    report(): EvalReport {
        const subsets = Object.fromEntries([...this.bySubset].sort(([a], [b]) => a.localeCompare(b))
            .map(([name, s]) => [name, { rows: s.rows, accuracy: s.correct / s.rows, ties: s.ties }]));
        const report: EvalReport = {
            rows: this.rows,
            accuracy: this.rows === 0 ? null : this.correct / this.rows,
            ties: this.ties,
            mean_margin: this.rows === 0 ? null : this.marginSum / this.rows,
            errors: this.errors,
            no_preference: this.noPreference,
            subsets,
        };
        const names = Object.keys(subsets);
        if (names.length === 0 || !names.every((name) => rewardBenchSubsets.has(name))) return report;
        // Each section: the subsets present, weighted by their official example counts (as RewardBench does).
        const categories: Record<string, number> = {};
        for (const [section, weights] of Object.entries(rewardBenchSections)) {
            const present = Object.entries(weights).filter(([name]) => subsets[name] !== undefined);
            const total = present.reduce((n, [, w]) => n + w, 0);
            if (total > 0) categories[section] = present.reduce((sum, [name, w]) => sum + subsets[name]!.accuracy * w, 0) / total;
        }
        const values = Object.values(categories);
        return { ...report, categories, overall: values.length === 4 ? values.reduce((a, b) => a + b, 0) / 4 : null };
    }
}

/** HelpSteer2-Preference's `preference_strength` (a number, or its text in a CSV cell); a row without one cannot be judged. */
export function preferenceStrength(record: Fields): number {
    const value = record["preference_strength"];
    if (value === undefined || value === null || value === "") throw new RowError('"preference_strength" is missing: a response_1 + response_2 pair needs it');
    const strength = typeof value === "number" || typeof value === "string" || typeof value === "bigint" ? Number(value)
        : value instanceof Decimal || value instanceof Float32 ? Number(value.toString()) : NaN;
    if (!Number.isFinite(strength)) throw new RowError(`"preference_strength" is not a number (${jsonText(value, true)})`);
    return strength;
}

const percent = (x: number | null) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);

/** The report as a table for people. */
export function describeReport(report: EvalReport): string {
    const lines = [
        `pairs       ${report.rows}${report.errors > 0 ? ` (${report.errors} could not be scored)` : ""}` +
            (report.no_preference > 0 ? ` (${report.no_preference} with preference_strength 0, no preferred response: not counted)` : ""),
        `accuracy    ${percent(report.accuracy)}${report.ties > 0 ? ` (${plural(report.ties, "tie")}, counted as wrong)` : ""}`,
        `mean margin ${report.mean_margin?.toFixed(4) ?? "—"}`,
        "",
        `${"subset".padEnd(28)}${"pairs".padStart(7)}${"accuracy".padStart(10)}${"ties".padStart(6)}`,
        ...Object.entries(report.subsets).map(([name, s]) =>
            `${name.padEnd(28)}${String(s.rows).padStart(7)}${percent(s.accuracy).padStart(10)}${String(s.ties).padStart(6)}`),
    ];
    if (report.categories !== undefined) {
        lines.push("", "RewardBench (subsets weighted by their official example counts)");
        for (const section of Object.keys(rewardBenchSections)) {
            const value = report.categories[section];
            lines.push(`${section.padEnd(28)}${value === undefined ? "no subsets".padStart(17) : percent(value).padStart(17)}`);
        }
        lines.push(`${"Overall".padEnd(28)}${(report.overall == null ? "needs all four" : percent(report.overall)).padStart(17)}`);
    }
    return `${lines.join("\n")}\n`;
}
