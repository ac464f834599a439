import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { join } from "node:path";

/** What `nemoreward pull` downloads when given nothing, or a quantisation name. */
export const defaultRepository = "second-state/Llama-3.1-Nemotron-70B-Reward-HF-GGUF";
export const defaultQuantization = "Q4_K_M";

/** nemoreward's cache folder: `NEMOREWARD_HOME`, else `~/.cache/nemoreward`. */
export function modelHome(env: NodeJS.ProcessEnv = process.env): string {
    return env["NEMOREWARD_HOME"] || join(homedir(), ".cache", "nemoreward");
}

const lastModelFile = (env: NodeJS.ProcessEnv) => join(modelHome(env), "last-model");

/** The model `pull` fetched last, if any. */
export function lastPulledModel(env: NodeJS.ProcessEnv = process.env): string | undefined {
    try {
        return readFileSync(lastModelFile(env), "utf8").trim() || undefined;
    } catch {
        return undefined;
    }
}

export function rememberPulledModel(path: string, env: NodeJS.ProcessEnv = process.env): void {
    mkdirSync(modelHome(env), { recursive: true });
    writeFileSync(lastModelFile(env), `${path}\n`);
}
