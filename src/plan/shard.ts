import { InvalidArgumentError } from "commander";
import type { AutoShard } from "./scheduler.js";

/** This process's part of the input: rows i with i mod count == index. */
export type Shard = { index: number; count: number };

/** Parses `K/N` (0-based K < N), `auto` or `auto/N` (the scheduler's variables say K, and N where they can), for Commander. */
export function parseShard(value: string): Shard | AutoShard {
    const auto = /^auto(?:\/(\d+))?$/.exec(value.trim());
    if (auto) {
        const count = auto[1] === undefined ? undefined : Number(auto[1]);
        if (count !== undefined && count < 1) throw new InvalidArgumentError("expected auto/N with N >= 1.");
        return count === undefined ? { auto: true } : { auto: true, count };
    }
    const match = /^(\d+)\/(\d+)$/.exec(value.trim());
    const [index, count] = match ? [Number(match[1]), Number(match[2])] : [NaN, NaN];
    if (!(count >= 1 && index >= 0 && index < count)) throw new InvalidArgumentError("expected K/N with 0 <= K < N, as in 0/4, or auto, or auto/N.");
    return { index, count };
}
