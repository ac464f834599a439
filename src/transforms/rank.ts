import type { OutRow } from "../conversation/scoringTask.js";
import { groupRuns } from "./groups.js";
import type { RewardSource } from "./rewards.js";
import type { Transform } from "./transform.js";

/** `--rank`: adds `rank` (1 = highest reward in the group) and `z` (the reward standardised within the group), before `error`. */
export function rankTransform(source: RewardSource, keyOf: (row: OutRow) => string | undefined): Transform {
    return groupRuns(keyOf, (group) => {
        const own = group.map((row) => {
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
}
