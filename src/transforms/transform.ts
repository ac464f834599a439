import type { OutRow } from "../conversation/scoringTask.js";

/** Where a row goes: the command's output, or the rejects file. */
export type Emitted = { to: "main" | "rejects"; row: OutRow };

/**
 * A pure step over a run's finished rows, in input order: each row in, the rows it lets out (at once, or when the
 * group it belongs to ends), and at the end those still held. No I/O: a transform is tested with a list of rows.
 */
export type Transform = { row(row: OutRow): Emitted[]; end(): Emitted[] };

/** Transforms one after the other; a row sent to the rejects goes there directly. */
export function chain(transforms: readonly Transform[]): Transform {
    const pass = (emitted: Emitted[], from: number): Emitted[] => {
        let rows = emitted;
        for (let i = from; i < transforms.length; i++)
            rows = rows.flatMap((e) => (e.to === "rejects" ? [e] : transforms[i]!.row(e.row)));
        return rows;
    };
    return {
        row: (row) => pass([{ to: "main", row }], 0),
        end: () => transforms.flatMap((t, i) => pass(t.end(), i + 1)),
    };
}

/** Sends every row on as it is. */
export const passThrough: Transform = { row: (row) => [{ to: "main", row }], end: () => [] };
