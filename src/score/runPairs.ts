import { createWriteStream } from "node:fs";
import type { OutputRow } from "../output/formats.js";
import { groupingWriter, groupKey } from "../output/groups.js";
import { responsesOf } from "../conversation/scoringTask.js";
import { createLog, type Log } from "../log.js";
import { checkOutputPath } from "./outputGuard.js";
import { runPipeline, type Io, type RunOptions } from "./runPipeline.js";
import { scorePipeline } from "./runScore.js";

export type PairsOptions = RunOptions & { minMargin: number; groupBy?: string };

type Candidate = { response: unknown; reward: number };

/** What became of a group: a pair written, or why none was. */
type Outcome = "written" | "fewResponses" | "tie" | "belowMargin" | "rejectedHigher";

/**
 * Writes DPO pairs `{prompt, chosen, rejected}` (plus their rewards and margin): a chosen + rejected row as it is,
 * when chosen scores higher; else the best and the worst response of each row holding several (best-of-N,
 * response_1 + response_2) or of each run of rows sharing a prompt. A tie is never a pair. Says on stderr what it
 * wrote and, by reason, what it did not.
 */
export async function runPairs(options: PairsOptions, io: Io): Promise<number> {
    checkOutputPath(options.outputPath, options); // before the output is opened below
    const byPrompt = groupKey(options.groupBy);
    // a row that holds its own responses is a group of its own
    const keyOf = (row: OutputRow) => (row.task !== undefined && row.task.kind !== "single" ? `\u0000line ${row.input.source}:${row.input.line}` : byPrompt(row));
    const outcomes = new Map<Outcome, number>();
    const code = await runPipeline(options, io, {
        ...scorePipeline(options),
        wrapWriter: () => groupingWriter(keyOf, (group) => {
            const { outcome, line } = pairOf(group, options);
            outcomes.set(outcome, (outcomes.get(outcome) ?? 0) + 1);
            return line;
        }, () => ""),
        output: { stream: options.outputPath === undefined ? io.stdout : createWriteStream(options.outputPath), format: "jsonl" },
    });
    reportPairs(outcomes, options.minMargin, createLog(io.stderr, options));
    return code;
}

function pairOf(group: OutputRow[], options: PairsOptions): { outcome: Outcome; line: string } {
    const first = group[0]!;
    const candidates = candidatesOf(group, options);
    if (candidates.length < 2) return { outcome: "fewResponses", line: "" };
    // chosen + rejected keep their labels; otherwise the best response is chosen and the worst rejected
    const [chosen, rejected] = first.task?.kind === "chosenRejected" ? candidates as [Candidate, Candidate]
        : [candidates.reduce((a, b) => (b.reward > a.reward ? b : a)), candidates.reduce((a, b) => (b.reward < a.reward ? b : a))];
    const margin = chosen.reward - rejected.reward;
    const outcome: Outcome = margin === 0 ? "tie" : margin < 0 ? "rejectedHigher" : margin < options.minMargin ? "belowMargin" : "written";
    if (outcome !== "written") return { outcome, line: "" };
    const record = first.input.record ?? {};
    const prompt = record[options.fields.prompt] ?? first.task!.conversations[0]!.slice(0, -1);
    const pair = { prompt, chosen: chosen.response, rejected: rejected.response, [`${options.field}_chosen`]: chosen.reward, [`${options.field}_rejected`]: rejected.reward, margin };
    return { outcome, line: `${JSON.stringify(pair)}\n` };
}

/** The scored responses of a group, each with its reward. */
function candidatesOf(group: OutputRow[], { field, fields: names }: PairsOptions): Candidate[] {
    const { task, fields, input } = group[0]!;
    const record = input.record ?? {};
    const scored = (names: string[], rewards: unknown[]) => rewards.every((r) => typeof r === "number")
        ? rewards.map((reward, i) => ({ response: record[names[i]!], reward: reward as number })) : [];
    switch (task?.kind) {
        case "chosenRejected":
            return scored(["chosen", "rejected"], [fields[`${field}_chosen`], fields[`${field}_rejected`]]);
        case "pair":
            return scored(["response_1", "response_2"], [fields[`${field}_1`], fields[`${field}_2`]]);
        case "bestOfN":
            return ((fields[`${field}s`] as number[] | null) ?? []).map((reward, i) => ({ response: responsesOf(record)[i], reward }));
        default:
            return group.filter((row) => typeof row.fields[field] === "number").map((row) => ({
                response: row.input.record?.[names.response] ?? row.task!.conversations[0]!.at(-1)!.content,
                reward: row.fields[field] as number,
            }));
    }
}

/** "wrote 2 pairs from 5 prompts; not written: 1 tie, ...": a warning when nothing was written. */
function reportPairs(outcomes: Map<Outcome, number>, minMargin: number, log: Log): void {
    const count = (outcome: Outcome) => outcomes.get(outcome) ?? 0;
    const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
    const groups = [...outcomes.values()].reduce((a, b) => a + b, 0);
    const reasons = [
        [count("fewResponses"), "with fewer than 2 scored responses"],
        [count("tie"), count("tie") === 1 ? "tie" : "ties"],
        [count("belowMargin"), `below --min-margin ${minMargin}`],
        [count("rejectedHigher"), "where the rejected response scored higher"],
    ] as const;
    const dropped = reasons.filter(([n]) => n > 0).map(([n, why]) => `${n} ${why}`).join(", ");
    const written = count("written");
    if (written > 0 || groups === 0) {
        log.info(`wrote ${plural(written, "pair")} from ${plural(groups, "prompt")}${dropped === "" ? "" : `; not written: ${dropped}`}`);
        return;
    }
    const hint = count("fewResponses") > 0
        ? " (a pair compares responses to one prompt: a responses list, chosen + rejected, response_1 + response_2, or adjacent rows sharing a prompt)" : "";
    log.warn(`wrote no pairs from ${plural(groups, "prompt")}: ${dropped}${hint}`);
}
