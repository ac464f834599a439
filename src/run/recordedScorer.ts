import { RowError } from "../errors.js";
import { recordKind, toScoringTask, type ScoringTask } from "../conversation/scoringTask.js";
import type { Plan } from "../plan/plan.js";
import type { InputRow } from "../records/row.js";
import { toolColumn } from "../records/toolFields.js";
import type { Fields } from "../records/values.js";
import { recordedRewards } from "../transforms/rewards.js";
import { rewardStats, type Scored } from "./scoreTask.js";

/**
 * The step from a row to its rewards when the row already holds them (filter, pairs --scored): read from its --field
 * columns, no model. A row without one (an error row of `score`, a field missing, empty or not a number) is a row not
 * scored, with why; a row `score` skipped stays skipped. Its conversation is read only when a transform needs it
 * (pairs, or a group by prompt): a file of ids and rewards filters by reward as it is.
 */
export function recordedScorer(plan: Plan) {
    const rewards = recordedRewards(plan.scoring.field);
    const stats = rewardStats();
    const { pairs, filter, rank } = plan.transforms;
    const byPrompt = pairs !== undefined || (filter?.topK !== undefined && filter.groupBy === undefined) || (rank !== undefined && rank.groupBy === undefined);
    return {
        async score(row: InputRow): Promise<Scored> {
            const record = row.record;
            if (record === undefined) {
                const problem = row.problem ?? "no record";
                return { out: { input: row, fields: { error: problem } }, tokens: 0, error: problem };
            }
            // the row's own error stays as it is (its rejects line keeps it)
            const errorColumn = record[toolColumn(record, "error")];
            const own: Fields = typeof errorColumn === "string" ? { error: errorColumn } : {};
            // the task's kind alone, from the field names: its conversations are read only for a prompt to group by
            const kindOnly = { kind: recordKind(record), conversations: [] } as unknown as ScoringTask;
            const read = rewards.read({ input: row, fields: own, task: kindOnly });
            if (read === "skipped") return { out: { input: row, fields: own, task: kindOnly }, tokens: 0, skipped: typeof record[toolColumn(record, "skipped")] === "string" ? record[toolColumn(record, "skipped")] as string : "skipped" };
            if (typeof read === "string") {
                const why = read === "error" ? `no reward: the row is an error row (${String(errorColumn)})` : `no reward: ${read}`;
                return { out: { input: row, fields: own, task: kindOnly }, tokens: 0, error: why };
            }
            let task = kindOnly;
            if (byPrompt) {
                try {
                    task = toScoringTask(record, plan.conversation);
                } catch (error) {
                    if (!(error instanceof RowError)) throw error;
                    // the conversation was read for its prompt, to group by: a field may group the rows instead
                    const message = pairs === undefined ? `${error.message} (rows are grouped by prompt: --group-by FIELD groups them by a field)` : error.message;
                    return { out: { input: row, fields: { error: message } }, tokens: 0, error: message };
                }
            }
            stats.add(read);
            return { out: { input: row, fields: own, task }, tokens: 0 };
        },
        summary: () => stats.summary(),
    };
}
