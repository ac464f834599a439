import { createReadStream, statSync } from "node:fs";
import type { Readable } from "node:stream";
import { UsageError } from "../errors.js";
import { readJsonl, type InputRow } from "./readJsonl.js";

/** Where rows come from: file paths, or `-` for standard input. */
export type InputSpec = { paths: string[]; stdin: Readable };

/** The name a row's source is reported under. */
export function sourceName(path: string): string {
    return path === "-" ? "<stdin>" : path;
}

/** Fails fast, before any model is loaded, on inputs that cannot be read. */
export function checkInputs(paths: readonly string[]): void {
    for (const path of paths) {
        if (path === "-") continue;
        let isFile: boolean;
        try {
            isFile = statSync(path).isFile();
        } catch {
            throw new UsageError(`input file not found: ${path}`);
        }
        if (!isFile) throw new UsageError(`input is not a file: ${path}`);
    }
}

/** Streams the rows of every input in turn. */
export async function* readInputs({ paths, stdin }: InputSpec): AsyncIterable<InputRow> {
    for (const path of paths) {
        const stream = path === "-" ? stdin : createReadStream(path);
        yield* readJsonl(stream, sourceName(path));
    }
}
