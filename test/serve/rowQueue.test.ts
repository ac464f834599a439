import { getEventListeners } from "node:events";
import { describe, expect, it } from "vitest";
import { Cancelled, RowQueue } from "../../src/serve/rowQueue.js";

describe("the server's row queue", () => {
    it("a request's rows add one abort listener to its signal, removed once they have all left the queue", async () => {
        const queue = new RowQueue(1, 1000);
        const stop = new AbortController();
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const rows = queue.runAll(Array.from({ length: 50 }, (_, i) => async () => {
            await gate;
            return i;
        }), stop.signal);
        expect(getEventListeners(stop.signal, "abort")).toHaveLength(1);
        open();
        expect(await Promise.all(rows)).toEqual(Array.from({ length: 50 }, (_, i) => i));
        expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    });

    it("an abort drops the rows still waiting (Cancelled), not the one running", async () => {
        const queue = new RowQueue(1, 1000);
        const stop = new AbortController();
        let open!: () => void;
        const gate = new Promise<void>((resolve) => (open = resolve));
        const rows = queue.runAll([0, 1, 2].map((i) => async () => {
            await gate;
            return i;
        }), stop.signal);
        for (const row of rows) row.catch(() => undefined);
        stop.abort();
        open();
        expect(await rows[0]).toBe(0);
        await expect(rows[1]).rejects.toBeInstanceOf(Cancelled);
        await expect(rows[2]).rejects.toBeInstanceOf(Cancelled);
        expect(queue.depth).toBe(0);
        expect(getEventListeners(stop.signal, "abort")).toHaveLength(0);
    });
});
