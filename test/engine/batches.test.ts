import { describe, expect, it } from "vitest";
import { batches } from "../../src/engine/rewardEngine.js";

describe("the batches a row is evaluated in", () => {
    it("cover the tokens in order, at most the batch size each, and none under 64 tokens", () => {
        for (const size of [128, 512, 2048])
            for (const from of [0, 1, 100, 511])
                for (let length = 64; length <= 3 * size + 70; length++) {
                    const parts = batches(from, from + length, size);
                    expect(parts[0]![0]).toBe(from);
                    expect(parts.at(-1)![1]).toBe(from + length);
                    parts.forEach(([a, b], i) => {
                        if (i > 0) expect(a).toBe(parts[i - 1]![1]);
                        expect(b - a).toBeLessThanOrEqual(size);
                        expect(b - a).toBeGreaterThanOrEqual(64);
                    });
                    expect(parts).toHaveLength(Math.ceil(length / size));
                }
    });

    it("keep a row shorter than 64 tokens whole", () => {
        expect(batches(0, 20, 512)).toEqual([[0, 20]]);
    });
});
