import { createWriteStream, writeFileSync } from "node:fs";
import { RowError } from "../errors.js";
import { formatOfPath } from "../output/formats.js";
import { EvalTally, rewardBenchSections, type EvalReport } from "./rewardBench.js";
import { checkOutputPath } from "./outputGuard.js";
import { runPipeline, type Io, type RunOptions } from "./runPipeline.js";
import { scorePipeline } from "./runScore.js";

export type EvalOptions = RunOptions & { perRowPath?: string; json: boolean };

/**
 * Scores a preference file and prints accuracy (overall, per subset, RewardBench categories) on stdout.
 * A pair is `chosen` + `rejected`, or `response_1` + `response_2` with HelpSteer2's `preference_strength`.
 */
export async function runEval(options: EvalOptions, io: Io): Promise<number> {
    checkOutputPath(options.perRowPath, options); // before it is opened below
    checkOutputPath(options.outputPath, options);
    const tally = new EvalTally();
    const score = scorePipeline(options);
    const code = await runPipeline(options, io, {
        ...score,
        verb: "evaluated",
        step: async (engine, task, prepared, prepare, record) => {
            if (task.kind !== "chosenRejected" && task.kind !== "pair")
                throw new RowError("not a preference pair: eval needs chosen + rejected, or response_1 + response_2 + preference_strength");
            if (task.kind === "pair") preferenceStrength(record);
            return score.step(engine, task, prepared, prepare, record);
        },
        onRow: ({ input, fields, task }) => {
            if (fields["skipped"] != null) return; // --on-overlong skip: deliberately not evaluated
            if (fields["error"] != null || task === undefined) return tally.addError();
            const margin = fields["margin"] as number;
            const subset = typeof input.record?.["subset"] === "string" ? input.record["subset"] : undefined;
            if (task.kind === "chosenRejected") return tally.add(margin, subset);
            // HelpSteer2-Preference: a negative strength prefers response_1, and margin is reward_2 - reward_1
            const strength = preferenceStrength(input.record!);
            if (strength === 0) return tally.addNoPreference();
            tally.add(strength < 0 ? -margin : margin, subset);
        },
        output: {
            stream: options.perRowPath === undefined ? undefined : createWriteStream(options.perRowPath),
            format: (options.perRowPath === undefined ? undefined : formatOfPath(options.perRowPath)) ?? "jsonl",
        },
    });
    const report = tally.report();
    const text = options.json ? `${JSON.stringify(report)}\n` : describeReport(report);
    if (options.outputPath === undefined) io.stdout.write(text);
    else writeFileSync(options.outputPath, text);
    return code;
}

/** HelpSteer2-Preference's `preference_strength` (a number, or its text in a CSV cell); a row without one cannot be judged. */
function preferenceStrength(record: Record<string, unknown>): number {
    const value = record["preference_strength"];
    if (value === undefined || value === null || value === "") throw new RowError('"preference_strength" is missing: a response_1 + response_2 pair needs it');
    const strength = typeof value === "number" || typeof value === "string" ? Number(value) : NaN;
    if (!Number.isFinite(strength)) throw new RowError(`"preference_strength" is not a number (${JSON.stringify(value)})`);
    return strength;
}

const percent = (x: number | null) => (x === null ? "—" : `${(100 * x).toFixed(1)}%`);

function describeReport(report: EvalReport): string {
    const lines = [
        `pairs       ${report.rows}${report.errors > 0 ? ` (${report.errors} could not be scored)` : ""}` +
            (report.no_preference > 0 ? ` (${report.no_preference} with preference_strength 0, no preferred response: not counted)` : ""),
        `accuracy    ${percent(report.accuracy)}${report.ties > 0 ? ` (${report.ties} ties, counted as wrong)` : ""}`,
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
