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
