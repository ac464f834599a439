import { createWriteStream } from "node:fs";
import type { OutputRow } from "../output/formats.js";
import { groupingWriter, groupKey } from "../output/groups.js";
import { responsesOf } from "../conversation/scoringTask.js";
import { refuseInputAsOutput } from "./outputGuard.js";
import { runPipeline, type Io, type RunOptions } from "./runPipeline.js";
import { scorePipeline } from "./runScore.js";

export type PairsOptions = RunOptions & { minMargin: number; groupBy?: string };

type Candidate = { response: unknown; reward: number };

/**
 * Writes DPO pairs `{prompt, chosen, rejected}` (plus their rewards and margin): the best and the worst response
 * of each best-of-N row (`prompt` + `responses`), or of each run of rows sharing a prompt.
 */
export async function runPairs(options: PairsOptions, io: Io): Promise<number> {
    refuseInputAsOutput(options.outputPath, options.inputs);
    const byPrompt = groupKey(options.groupBy);
    // a best-of-N row is a group of its own
    const keyOf = (row: OutputRow) => (row.task?.kind === "bestOfN" ? `\u0000line ${row.input.source}:${row.input.line}` : byPrompt(row));
    return runPipeline(options, io, {
        ...scorePipeline(options),
        wrapWriter: () => groupingWriter(keyOf, (group) => pairLine(group, options), () => ""),
        output: { stream: options.outputPath === undefined ? io.stdout : createWriteStream(options.outputPath), format: "jsonl" },
    });
}

function pairLine(group: OutputRow[], options: PairsOptions): string {
    const first = group[0]!;
    const candidates: Candidate[] = first.task?.kind === "bestOfN"
        ? ((first.fields[`${options.field}s`] as number[] | null) ?? []).map((reward, i) =>
            ({ response: responsesOf(first.input.record!)[i], reward }))
        : group.filter((row) => typeof row.fields[options.field] === "number").map((row) => ({
            response: row.input.record?.[options.fields.response] ?? row.task!.conversations[0]!.at(-1)!.content,
            reward: row.fields[options.field] as number,
        }));
    if (candidates.length < 2) return "";
    const best = candidates.reduce((a, b) => (b.reward > a.reward ? b : a));
    const worst = candidates.reduce((a, b) => (b.reward < a.reward ? b : a));
    const margin = best.reward - worst.reward;
    if (margin <= 0 || margin < options.minMargin) return "";
    const record = first.input.record ?? {};
    const prompt = record[options.fields.prompt] ?? first.task!.conversations[0]!.slice(0, -1);
    return `${JSON.stringify({ prompt, chosen: best.response, rejected: worst.response, reward_chosen: best.reward, reward_rejected: worst.reward, margin })}\n`;
}
