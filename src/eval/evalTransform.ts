import type { InputRow } from "../records/row.js";
import type { Scored } from "../run/scoreTask.js";
import type { Fields } from "../records/values.js";
import type { Transform } from "../transforms/transform.js";
import { rewardsOf, type BenchmarkTally } from "./benchmark.js";

/**
 * `nemoreward eval`: each row passes on (to `--per-row`), and each scored row is tallied. A row skipped by
 * `--on-overlong skip` is left out. `scored`: the rows were scored by an earlier run (its `--per-row` output), their
 * rewards are in the records. `replay` tallies an input row with the rewards of the row a resumed run already wrote for
 * it, without passing it on.
 */
export function evalTransform(tally: BenchmarkTally, options: { field: string; scored: boolean }): Transform & { replay(input: InputRow, written: InputRow): void } {
    const take = (record: Fields | undefined, fields: Fields, scoredNow: boolean) => {
        if (given(fields["skipped"])) return; // --on-overlong skip: deliberately not evaluated
        const rewards = given(fields["error"]) || record === undefined || !scoredNow ? undefined : rewardsOf(fields, options.field);
        if (rewards === undefined) tally.addError(record);
        else tally.add(record!, rewards);
    };
    return {
        row(row) {
            // an earlier run's row: its own fields are in the record
            if (options.scored) take(row.input.record, row.input.record ?? {}, row.input.record !== undefined);
            else take(row.input.record, row.fields, row.task !== undefined);
            return [{ to: "main", row }];
        },
        end: () => [],
        replay: (input, written) => take(input.record, written.record ?? {}, written.record !== undefined),
    };
}

// a CSV cell holds "" where JSON holds null
const given = (value: unknown) => value !== null && value !== undefined && value !== "";

/**
 * A row an earlier run scored (its --per-row output), as this run counts it: an error row (the error it holds, or no
 * rewards), skipped (--on-overlong skip), or scored. So a report on the rows exits 3 and counts them as the run that
 * scored them did.
 */
export function scoredRow(row: InputRow, field: string): Scored {
    const out = { input: row, fields: {} };
    const record = row.record;
    if (record === undefined) return { out, tokens: 0, error: row.problem ?? "no record" };
    if (given(record["skipped"])) return { out, tokens: 0, skipped: String(record["skipped"]) };
    if (given(record["error"])) return { out, tokens: 0, error: String(record["error"]) };
    if (rewardsOf(record, field) === undefined)
        return { out, tokens: 0, error: `no rewards: neither ${field}_chosen + ${field}_rejected nor ${field}_1 + ${field}_2 hold numbers` };
    return { out, tokens: 0 };
}
