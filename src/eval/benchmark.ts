import { Decimal, Float32, jsonText, type Fields, type Value } from "../records/values.js";
import { describeReport, EvalTally, preferenceStrength, rewardBenchSections, rewardBenchSubsets, type EvalReport } from "../transforms/evalTally.js";
import { plural } from "../plural.js";
import { published } from "./published.js";
import { RewardBench2Tally, rewardBench2Subsets, type RewardBench2Report } from "./rewardBench2.js";
import { RmBenchTally, rmBenchDomains, type RmBenchReport } from "./rmBench.js";

export type Benchmark = "v1" | "v2" | "rm-bench";

/** A scored row's rewards: the chosen and rejected answers' (one each in RewardBench v1), or a response_1 + response_2 pair's. */
export type Rewards = { chosen: number[]; rejected: number[] } | { pair: [number, number] };

const rmBenchNames = ["chat", "code", "math", "safety-refuse", "safety-response"];

/** The benchmark a record belongs to: RewardBench 2 has num_correct, RM-Bench three chosen and three rejected answers and its domains. */
export function detectBenchmark(record: Fields): Benchmark {
    if ("num_correct" in record) return "v2";
    const chosen = listOf(record["chosen"]), rejected = listOf(record["rejected"]);
    const lists = Array.isArray(chosen) && Array.isArray(rejected);
    const domain = record["domain"] ?? record["subset"];
    if (lists && chosen.length === 3 && rejected.length === 3 && typeof domain === "string" && rmBenchNames.includes(domain)) return "rm-bench";
    if (lists && (rewardBench2Subsets as readonly Value[]).includes(record["subset"] ?? null)) return "v2";
    return "v1";
}

/** A list, or a JSON list's text (a CSV cell). */
function listOf(value: Value | undefined): Value[] | undefined {
    if (Array.isArray(value)) return value;
    if (typeof value !== "string" || !value.trimStart().startsWith("[")) return undefined;
    try {
        const parsed = JSON.parse(value) as unknown;
        return Array.isArray(parsed) ? parsed as Value[] : undefined;
    } catch {
        return undefined;
    }
}

/** A number from a record: a JSON or Parquet number, or its text (a CSV cell). */
function numberOf(value: Value | undefined): number | undefined {
    const n = typeof value === "number" ? value : typeof value === "bigint" || typeof value === "string" ? Number(value)
        : value instanceof Decimal || value instanceof Float32 ? Number(value.toString()) : NaN;
    return typeof value === "string" && value.trim() === "" ? undefined : Number.isNaN(n) ? undefined : n;
}

/** Rewards given as one number or a list (a JSON list's text in a CSV cell). */
function numbersOf(value: Value | undefined): number[] | undefined {
    const given = listOf(value);
    if (given === undefined && typeof value === "string" && value.trimStart().startsWith("[")) return undefined;
    const list = given !== undefined ? given.map(numberOf) : [numberOf(value)];
    return list.every((n) => n !== undefined) ? list as number[] : undefined;
}

/** The rewards a row holds under `field` (reward_chosen + reward_rejected, or reward_1 + reward_2), if it holds them. */
export function rewardsOf(fields: Fields, field: string): Rewards | undefined {
    const chosen = numbersOf(fields[`${field}_chosen`]), rejected = numbersOf(fields[`${field}_rejected`]);
    if (chosen !== undefined && rejected !== undefined) return { chosen, rejected };
    const one = numberOf(fields[`${field}_1`]), two = numberOf(fields[`${field}_2`]);
    if (one !== undefined && two !== undefined) return { pair: [one, two] };
    return undefined;
}

export type BenchmarkReport = (EvalReport & { benchmark: "RewardBench" }) | RewardBench2Report | RmBenchReport;

/** Why a row does not fit the benchmark (a subset not its own, an RM-Bench row without 3 + 3 answers): counted apart, never scored. */
class NotFitting extends Error {}

/** A subset's or domain's value as its JSON text, whatever its type (a big integer, a date). */
const shown = (value: Value | undefined) => jsonText(value ?? null, true);

/** The reasons rows did not fit, each with its count; at most this many reasons are named, the rest counted together. */
const namedReasons = 20;

/** The tally of the benchmark given, or of the one the first record tells. */
export class BenchmarkTally {
    private v1?: EvalTally;
    private v2?: RewardBench2Tally;
    private rm?: RmBenchTally;
    /** rows whose record does not fit the benchmark, by reason (a subset not the benchmark's, a Ties id not ref:N/tied:N) */
    private readonly misfits = new Map<string, number>();
    /** rows not scored before any record told the benchmark */
    private early = 0;
    /** --benchmark v1 given: the rows are RewardBench's own, so a subset not RewardBench's does not fit (else a file of one's own) */
    private readonly given: boolean;

    constructor(private benchmark: Benchmark | undefined) {
        this.given = benchmark !== undefined;
    }

    private tally(record: Fields | undefined): EvalTally | RewardBench2Tally | RmBenchTally {
        this.benchmark ??= record === undefined ? undefined : detectBenchmark(record);
        switch (this.benchmark ?? "v1") {
            case "v1": return this.v1 ??= new EvalTally();
            case "v2": return this.v2 ??= new RewardBench2Tally();
            case "rm-bench": return this.rm ??= new RmBenchTally();
        }
    }

    add(record: Fields, rewards: Rewards): void {
        const tally = this.tally(record);
        try {
            if (tally instanceof EvalTally) {
                // an empty subset (a CSV cell) is none
                const subset = typeof record["subset"] === "string" && record["subset"] !== "" ? record["subset"] : undefined;
                if (this.given && subset !== undefined && !rewardBenchSubsets.has(subset)) throw new NotFitting(`subset ${shown(subset)} is not one of RewardBench's`);
                if ("pair" in rewards) {
                    // HelpSteer2-Preference: a negative strength prefers response_1
                    const strength = preferenceStrength(record);
                    const margin = rewards.pair[1] - rewards.pair[0];
                    if (strength === 0) tally.addNoPreference();
                    else tally.add(strength < 0 ? -margin : margin, subset);
                } else {
                    if (rewards.chosen.length !== 1 || rewards.rejected.length !== 1)
                        throw new NotFitting(`lists of answers (${rewards.chosen.length} chosen, ${rewards.rejected.length} rejected), not RewardBench's one of each`);
                    tally.add(rewards.chosen[0]! - rewards.rejected[0]!, subset);
                }
            } else if ("pair" in rewards) throw new NotFitting("a response_1 + response_2 pair");
            else if (tally instanceof RewardBench2Tally) {
                const subset = record["subset"];
                if (typeof subset !== "string" || !(rewardBench2Subsets as readonly string[]).includes(subset)) throw new NotFitting(`subset ${shown(record["subset"])} is not one of RewardBench 2's`);
                tally.add({
                    id: String(record["id"]), subset,
                    numCorrect: numberOf(record["num_correct"]) ?? rewards.chosen.length, scores: [...rewards.chosen, ...rewards.rejected],
                });
            } else {
                const domain = record["domain"] ?? record["subset"] ?? null;
                if (typeof domain !== "string" || ![...rmBenchNames, "safety"].includes(domain)) throw new NotFitting(`domain ${shown(domain)} is not one of RM-Bench's`);
                tally.add({ domain, chosen: rewards.chosen, rejected: rewards.rejected });
            }
        } catch (error) {
            if (error instanceof TypeError || !(error instanceof Error)) throw error;
            // NotFitting, or the tally's own RangeError, TiesIdError
            const reason = this.misfits.has(error.message) || this.misfits.size < namedReasons ? error.message : "other reasons";
            this.misfits.set(reason, (this.misfits.get(reason) ?? 0) + 1);
            tally.addError();
        }
    }

    addError(record: Fields | undefined): void {
        if (this.benchmark === undefined && record === undefined) this.early++;
        else this.tally(record).addError();
    }

    addNoPreference(record: Fields): void {
        const tally = this.tally(record);
        if (tally instanceof EvalTally) tally.addNoPreference();
    }

    report(): BenchmarkReport & { not_fitting: number; not_fitting_reasons: Record<string, number> } {
        const tally = this.tally(undefined);
        for (; this.early > 0; this.early--) tally.addError();
        const report = tally instanceof EvalTally ? { benchmark: "RewardBench" as const, ...tally.report() } : tally.report();
        return { ...report, not_fitting: [...this.misfits.values()].reduce((a, b) => a + b, 0), not_fitting_reasons: Object.fromEntries(this.misfits) };
    }
}

/**
 * What keeps the report from being whole, for stderr, or undefined: rows that could not be scored or do not fit
 * (the run then exits 3, as a scoring run with error rows does), or no row scored at all.
 */
export function incompleteReport(report: BenchmarkReport & { not_fitting: number }): string | undefined {
    if (report.rows === 0)
        return report.not_fitting > 0 ? `no row fits ${report.benchmark}: ${report.not_fitting} of ${plural(report.errors, "row")} do not (see --benchmark), so no score`
            : report.errors > 0 ? `no row could be scored (${plural(report.errors, "error row")}), so no score` : undefined;
    if (report.errors === 0) return undefined;
    return `${plural(report.errors, "row")} not counted in the report: ${report.not_fitting > 0 ? `${report.not_fitting} do not fit ${report.benchmark} (see --benchmark), ` : ""}` +
        `${report.errors - report.not_fitting} could not be scored`;
}

const pct = (x: number | null | undefined) => (x == null ? "—" : (100 * x).toFixed(1));

/** The leaderboard's columns and this run's values (in percent) for them; null where not computed. */
export function leaderboardRow(report: BenchmarkReport): Record<string, number | null> {
    const p = (x: number | null | undefined) => (x == null ? null : 100 * x);
    switch (report.benchmark) {
        case "RewardBench":
            return { "Score": p(report.overall), ...Object.fromEntries(Object.keys(rewardBenchSections).map((s) => [s, p(report.categories?.[s])])) };
        case "RewardBench 2":
            return { "Score": p(report.overall), ...Object.fromEntries(rewardBench2Subsets.map((s) => [s, p(report.subsets[s]?.score)])) };
        case "RM-Bench":
            return {
                ...Object.fromEntries(rmBenchDomains.map((d) => [d[0]!.toUpperCase() + d.slice(1), p(report.domains[d]?.score)])),
                "Easy": p(report.easy), "Normal": p(report.normal), "Hard": p(report.hard), "Avg": p(report.overall),
            };
    }
}

const benchmarkKey = { "RewardBench": "v1", "RewardBench 2": "v2", "RM-Bench": "rm-bench" } as const;

/** The published rows for this benchmark, and the difference of this run from each, column by column. */
export function comparison(report: BenchmarkReport) {
    const mine = leaderboardRow(report);
    const { source, rows } = published[benchmarkKey[report.benchmark]];
    return {
        source,
        rows: rows.map(({ model, values }) => ({
            model, values,
            difference: Object.fromEntries(Object.entries(values).map(([column, value]) => [column, mine[column] == null ? null : mine[column]! - value])),
        })),
    };
}

/** The report as the benchmark's leaderboard prints it, the details under it, and the published rows with --compare. */
export function describeBenchmark(report: BenchmarkReport & { not_fitting?: number; not_fitting_reasons?: Record<string, number> }, options: { maxTokens: number | undefined | "unknown"; compare: boolean }): string {
    const reasons = Object.entries(report.not_fitting_reasons ?? {});
    const misfits = reasons.length === 0 ? "" : `not fitting ${report.benchmark} (not scored): ${reasons.map(([why, n]) => `${why} (${plural(n, "row")})`).join("; ")}\n`;
    // not RewardBench's subsets (HelpSteer2-Preference, a file of one's own): accuracy alone, no leaderboard to lay out
    if (report.benchmark === "RewardBench" && report.categories === undefined)
        return describeReport(report) + misfits + (options.compare ? "published: none to compare (the subsets are not RewardBench's)\n" : "");
    const mine = leaderboardRow(report);
    const columns = Object.keys(mine);
    const width = 44;
    const line = (name: string, values: Record<string, number | null | undefined>, sign = false) =>
        name.padEnd(width) + columns.map((c) => {
            const v = values[c];
            const text = v == null ? "—" : `${sign && v > 0 ? "+" : ""}${v.toFixed(1)}`;
            return text.padStart(Math.max(c.length, 6) + 2);
        }).join("");
    const header = "".padEnd(width) + columns.map((c) => c.padStart(Math.max(c.length, 6) + 2)).join("");
    const lines = [
        `${report.benchmark}: ${plural(report.rows, "row")}${report.errors > 0 ? `, ${report.errors} could not be scored (not counted)` : ""}` +
            `${(report.not_fitting ?? 0) > 0 ? ` (${report.not_fitting} of them do not fit the benchmark: see --benchmark)` : ""}; ` +
            (options.maxTokens === undefined ? "conversations whole (no --max-tokens)"
                : options.maxTokens === "unknown" ? "rows scored by an earlier run, whose --max-tokens is not known (no FILE.resume record beside them)"
                    : `each conversation cut to ${options.maxTokens} tokens (--max-tokens)`),
        "",
        header,
        line("this run", mine),
    ];
    if (options.compare) {
        const { source, rows } = comparison(report);
        if (rows.length === 0) lines.push(`published: ${source}`);
        for (const row of rows) lines.push(line(`${row.model} (published)`, row.values), line("  difference (this run - published)", row.difference, true));
        if (rows.length > 0) lines.push(`published: ${source}`);
    }
    if (report.rows === 0) lines.push("", "no row scored: no score");
    else if ("missing" in report && report.missing.length > 0)
        lines.push("", `not in the input: ${report.missing.join(", ")}, so no overall (the others are scored)`);
    else if (report.benchmark === "RewardBench 2" && report.overall === null && report.subsets["Ties"] !== undefined)
        lines.push("", "Ties has no prompt with both its ref:N and tied:N rows, so no Ties score and no overall");
    if (misfits !== "") lines.push("", misfits.trimEnd());
    lines.push("");
    if (report.benchmark === "RewardBench") return `${lines.join("\n")}\n${describeReport(report)}`;
    if (report.benchmark === "RewardBench 2") {
        lines.push(`${"subset".padEnd(28)}${"rows".padStart(7)}${"score".padStart(8)}${"exact ties".padStart(12)}`);
        for (const [name, s] of Object.entries(report.subsets))
            lines.push(`${name.padEnd(28)}${String(s.rows).padStart(7)}${pct(s.score).padStart(8)}${(s.exact_ties === undefined ? "" : String(s.exact_ties)).padStart(12)}`);
        const ties = report.subsets["Ties"];
        if (ties !== undefined)
            lines.push("", `Ties = 0.30 tied accuracy ${pct(ties.tied_accuracy)} + 0.30 ref accuracy ${pct(ties.ref_accuracy)} + 0.20 correctness preferred ` +
                `${pct(ties.correctness_preferred)} + 0.20 correctness preferred (hard) ${pct(ties.correctness_preferred_hard)} + 0.01 margin ${ties.margin?.toFixed(3) ?? "—"}`);
    } else {
        lines.push(`${"domain".padEnd(10)}${"rows".padStart(7)}${"easy".padStart(8)}${"normal".padStart(8)}${"hard".padStart(8)}${"score".padStart(8)}   chosen style × rejected style (% strictly higher)`);
        for (const [name, d] of Object.entries(report.domains))
            lines.push(`${name.padEnd(10)}${String(d.rows).padStart(7)}${pct(d.easy).padStart(8)}${pct(d.normal).padStart(8)}${pct(d.hard).padStart(8)}${pct(d.score).padStart(8)}   ` +
                d.matrix.map((r) => r.map((x) => pct(x)).join(" ")).join(" | "));
    }
    return `${lines.join("\n")}\n`;
}
