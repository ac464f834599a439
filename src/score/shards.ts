import { readFileSync, writeFileSync } from "node:fs";
import { InvalidArgumentError } from "commander";

/** This process's part of the input: rows i with i mod count == index. */
export type Shard = { index: number; count: number };

/** Parses `K/N` (0-based K < N), for Commander. */
export function parseShard(value: string): Shard {
    const match = /^(\d+)\/(\d+)$/.exec(value.trim());
    const [index, count] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
    if (!(count >= 1 && index >= 0 && index < count)) throw new InvalidArgumentError("expected K/N with 0 <= K < N, as in 0/4.");
    return { index, count };
}

/** The files a run keeps beside its output FILE: `FILE.resume`, `FILE.shard`, and `FILE.lock` while it runs. */
export const recordSuffixes = [".resume", ".shard", ".lock"];

export type ShardRecord = Shard & { rows: number; complete: boolean };

/** `FILE.shard`: which shard FILE holds and whether its run finished, for `nemoreward merge`. */
export function writeShardRecord(outputPath: string, record: ShardRecord): void {
    writeFileSync(`${outputPath}.shard`, `${JSON.stringify(record)}\n`);
}

export function readShardRecord(outputPath: string): ShardRecord | undefined {
    try {
        return JSON.parse(readFileSync(`${outputPath}.shard`, "utf8")) as ShardRecord;
    } catch {
        return undefined;
    }
}
