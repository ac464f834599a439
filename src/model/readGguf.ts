import { readGgufFileInfo } from "node-llama-cpp";
import { ModelError } from "../errors.js";

/**
 * A model file's GGUF header, for every command that reads one (score, eval, pairs, render, check, info): a file that
 * is no GGUF model gets the one same message and exit status (1) whichever command was given it.
 */
export async function readGguf(path: string, options?: Parameters<typeof readGgufFileInfo>[1]): Promise<Awaited<ReturnType<typeof readGgufFileInfo>>> {
    try {
        return await readGgufFileInfo(path, options);
    } catch (error) {
        throw new ModelError(`${path} is not a readable GGUF model: ${(error as Error).message}`, { cause: error });
    }
}
