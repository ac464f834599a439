import type { OutRow } from "../conversation/scoringTask.js";
import { where } from "../records/row.js";
import { groupRuns, missingGroupField } from "./groups.js";
import type { RewardSource } from "./rewards.js";
import type { Transform } from "./transform.js";

/**
 * `--rank`: adds `rank` (1 = highest reward in the group) and `z` (the reward standardised within the group), before
 * `error`. A row without the --group-by field is in no group: its rank and z are null, it is counted (`noGroup`).
 */
export function rankTransform(source: RewardSource, keyOf: (row: OutRow) => string | undefined, groupBy?: string,
    warn: (message: string) => void = () => undefined): Transform & { noGroup: () => number } {
    let noGroup = 0;
    const runs = groupRuns(keyOf, (group) => {
        const own = group.map((row) => {
            if (missingGroupField(groupBy, row)) {
                if (++noGroup === 1) warn(`${where(row.input)}: no field "${groupBy}" to group by: not ranked, nor any other row without it`);
                return undefined;
            }
            const read = row.task?.kind === "single" ? source.read(row) : undefined;
            return typeof read === "object" ? read[0] : undefined;
        });
        const rewards = own.filter((r): r is number => r !== undefined);
        const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
        const sd = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
        return group.map((row, i) => {
            const r = own[i];
            const { error, ...fields } = row.fields;
            const ranked = r !== undefined
                ? { rank: 1 + rewards.filter((other) => other > r).length, z: sd > 0 ? (r - mean) / sd : 0 }
                : { rank: null, z: null };
            return { to: "main" as const, row: { ...row, fields: { ...fields, ...ranked, ...(error === undefined ? {} : { error }) } } };
        });
    });
    return { ...runs, noGroup: () => noGroup };
}
