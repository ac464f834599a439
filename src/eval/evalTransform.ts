import type { InputRow } from "../records/row.js";
import type { Fields } from "../records/values.js";
import type { Transform } from "../transforms/transform.js";
import { rewardsOf, type BenchmarkTally } from "./benchmark.js";

/**
 * `nemoreward eval`: each row passes on (to `--per-row`), and each scored row is tallied. A row skipped by
 * `--on-overlong skip` is left out. `scored`: the rows were scored by an earlier run (its `--per-row` output), their
 * rewards are in the records. `replay` tallies such a row without passing it on: the rows a resumed run already wrote.
 */
export function evalTransform(tally: BenchmarkTally, options: { field: string; scored: boolean }): Transform & { replay(row: InputRow): void } {
    const take = (record: Fields | undefined, fields: Fields, scoredNow: boolean) => {
        if (fields["skipped"] != null) return; // --on-overlong skip: deliberately not evaluated
        const rewards = fields["error"] != null || record === undefined || !scoredNow ? undefined : rewardsOf(fields, options.field);
        if (rewards === undefined) tally.addError(record);
        else tally.add(record!, rewards);
    };
    // an earlier run's row: its own fields are in the record
    const replay = (row: InputRow) => take(row.record, row.record ?? {}, row.record !== undefined);
    return {
        row(row) {
            if (options.scored) replay(row.input);
            else take(row.input.record, row.fields, row.task !== undefined);
            return [{ to: "main", row }];
        },
        end: () => [],
        replay,
    };
}
