import { accessSync, constants, fstatSync, statSync } from "node:fs";
import { dirname } from "node:path";
import { UsageError } from "../errors.js";
import { modelParts } from "../model/modelInfo.js";

/** Refuses an output file that is also an input: opening it for writing would empty the input before it is read. */
export function refuseInputAsOutput(output: string | undefined, inputs: readonly string[]): void {
    refuseReadFiles(output, inputs.map((path) => ({ path, what: "an input" })));
}

/**
 * Checked before anything is loaded: the output must not be a file the run reads (an input, a part of the model,
 * the chat template), and a new file's folder must exist and be writable.
 */
export function checkOutputPath(output: string | undefined, read: { inputs: readonly string[]; modelPath: string; chatTemplatePath?: string }): void {
    if (output === undefined) return;
    refuseReadFiles(output, [
        ...read.inputs.map((path) => ({ path, what: "an input" })),
        ...modelParts(read.modelPath).map((path) => ({ path, what: "the model" })),
        ...(read.chatTemplatePath === undefined ? [] : [{ path: read.chatTemplatePath, what: "the chat template" }]),
    ]);
    const folder = dirname(output);
    if (statSync(output, { throwIfNoEntry: false }) !== undefined) return;
    try {
        accessSync(folder, constants.W_OK);
    } catch (error) {
        const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "there is no folder" : "cannot write in folder";
        throw new UsageError(`cannot write ${output}: ${reason} ${folder}`);
    }
}

function refuseReadFiles(output: string | undefined, files: readonly { path: string; what: string }[]): void {
    if (output === undefined) return;
    const out = statSync(output, { throwIfNoEntry: false });
    if (out === undefined) return;
    for (const { path, what } of files) {
        const stat = path === "-" ? standardInput() : statSync(path, { throwIfNoEntry: false });
        if (stat !== undefined && stat.isFile() && stat.dev === out.dev && stat.ino === out.ino)
            throw new UsageError(`${output} is also ${what} (${path}): writing it would destroy ${what === "an input" ? "that input" : what}`);
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
