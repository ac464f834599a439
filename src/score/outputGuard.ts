import { fstatSync, statSync } from "node:fs";
import { UsageError } from "../errors.js";

/** Refuses an output file that is also an input: opening it for writing would empty the input before it is read. */
export function refuseInputAsOutput(output: string | undefined, inputs: readonly string[]): void {
    if (output === undefined) return;
    const out = statSync(output, { throwIfNoEntry: false });
    if (out === undefined) return;
    for (const input of inputs) {
        const stat = input === "-" ? standardInput() : statSync(input, { throwIfNoEntry: false });
        if (stat !== undefined && stat.isFile() && stat.dev === out.dev && stat.ino === out.ino)
            throw new UsageError(`${output} is also an input (${input}): writing it would destroy that input`);
    }
}

/** What standard input is: `< FILE` makes it that file. */
function standardInput() {
    try {
        return fstatSync(0);
    } catch {
        return undefined;
    }
}
