import { existsSync } from "node:fs";
import { ModelError, UsageError } from "../errors.js";
import { lastPulledModel } from "./modelHome.js";

/** The model to load: `--model`, else `NEMOREWARD_MODEL`, else the last model `nemoreward pull` fetched. */
export function findModel(flag: string | undefined, env: NodeJS.ProcessEnv = process.env): string {
    const [path, from] = flag !== undefined ? [flag, "--model"]
        : env["NEMOREWARD_MODEL"] ? [env["NEMOREWARD_MODEL"], "NEMOREWARD_MODEL"]
        : [lastPulledModel(env), "the last pulled model"];
    if (path === undefined)
        throw new UsageError("no model: give --model FILE, set NEMOREWARD_MODEL=FILE, or download one with `nemoreward pull`");
    if (!existsSync(path)) throw new ModelError(`model file not found: ${path} (from ${from})`);
    return path;
}

/** The parts of a split GGUF (`…-00001-of-00003.gguf`), or the file alone. */
export function modelParts(path: string): string[] {
    const split = /^(.*)-(\d{5})-of-(\d{5})\.gguf$/.exec(path);
    if (split === undefined || split === null) return [path];
    const count = Number(split[3]);
    return Array.from({ length: count }, (_, i) => `${split[1]}-${String(i + 1).padStart(5, "0")}-of-${split[3]}.gguf`);
}
