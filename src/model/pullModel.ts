import { createModelDownloader } from "node-llama-cpp";
import { join } from "node:path";
import { ModelError } from "../errors.js";
import type { Log } from "../log.js";
import { defaultQuantization, defaultRepository, modelHome, rememberPulledModel } from "./modelHome.js";

/**
 * What to download: nothing (the default Q4_K_M), a quantisation name (`Q5_K_M`), an `hf:owner/repo:QUANT`
 * reference, or an http(s) URL (of the first part, for a split file).
 */
export function modelUri(ref: string | undefined): string {
    if (ref === undefined) return `hf:${defaultRepository}:${defaultQuantization}`;
    if (/^(hf:|https?:\/\/)/.test(ref)) return ref;
    if (/^[A-Za-z0-9_]+$/.test(ref)) return `hf:${defaultRepository}:${ref}`;
    throw new ModelError(`cannot pull "${ref}": give a quantisation (Q4_K_M), hf:owner/repo:QUANT, or an https URL`);
}

/** Downloads with node-llama-cpp's downloader (resumes partial files, fetches every part of a split model). */
export async function pullModel(ref: string | undefined, log: Log, env: NodeJS.ProcessEnv = process.env): Promise<string> {
    const uri = modelUri(ref);
    const dirPath = join(modelHome(env), "models");
    let lastShown = 0;
    try {
        const downloader = await createModelDownloader({
            modelUri: uri,
            dirPath,
            skipExisting: true,
            deleteTempFileOnCancel: false,
            onProgress: ({ totalSize, downloadedSize }) => {
                const now = performance.now();
                if (now - lastShown < 2000 && downloadedSize < totalSize) return;
                lastShown = now;
                const gb = (n: number) => (n / 1e9).toFixed(2);
                log.info(`${gb(downloadedSize)} of ${gb(totalSize)} GB (${((100 * downloadedSize) / Math.max(totalSize, 1)).toFixed(0)}%)`);
            },
        });
        log.info(`downloading ${uri} (${downloader.totalFiles} file${downloader.totalFiles === 1 ? "" : "s"}, ${(downloader.totalSize / 1e9).toFixed(2)} GB) to ${dirPath}`);
        const path = await downloader.download();
        rememberPulledModel(path, env);
        return path;
    } catch (error) {
        throw new ModelError(`cannot download ${uri}: ${(error as Error).message}`, { cause: error });
    }
}
