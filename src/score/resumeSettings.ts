import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import type { OutputFormat } from "../output/formats.js";
import { modelParts } from "../model/modelInfo.js";
import { defaultMaxLineBytes } from "../input/readJsonl.js";
import type { RunOptions } from "./runPipeline.js";

/**
 * What the text of a row depends on, so that a resumed file is never finished with another model or other settings.
 * Not the backend, threads or --parallel: a lost run may go on on another machine.
 */
export function resumeSettings(options: RunOptions, format: OutputFormat, templateSource: string | undefined): Record<string, string | number | boolean> {
    return {
        format,
        model: modelIdentity(options.modelPath),
        chatTemplate: templateSource === undefined ? "the model's" : createHash("sha256").update(templateSource).digest("hex").slice(0, 16),
        field: options.field,
        rewardToken: options.rewardToken,
        precise: options.precise,
        flashAttention: options.flashAttention ?? false,
        contextSize: options.contextSize,
        maxRecordBytes: options.maxRecordBytes ?? defaultMaxLineBytes,
        onOverlong: options.onOverlong ?? "error",
        // only when set, so that files resumed from before the option keep their settings
        ...(options.contentSpecial === "text" ? { contentSpecial: "text" } : {}),
        fields: JSON.stringify(options.fields),
        shard: options.shard === undefined ? "none" : `${options.shard.index}/${options.shard.count}`,
    };
}

/**
 * A model file's name (through any symlink), size, and a digest of the first and last MiB of each of its parts: its
 * metadata and some of its weights, so that two checkpoints of the same name and size tell apart without reading
 * tens of gigabytes.
 */
function modelIdentity(path: string): string {
    const hash = createHash("sha256");
    let total = 0;
    const real = realpathSync(path);
    for (const part of modelParts(real)) {
        const fd = openSync(part, "r");
        try {
            const size = fstatSync(fd).size, span = Math.min(size, 1 << 20);
            total += size;
            for (const position of [0, size - span]) {
                const bytes = Buffer.alloc(span);
                readSync(fd, bytes, 0, span, position);
                hash.update(bytes);
            }
        } finally {
            closeSync(fd);
        }
    }
    return `${basename(real)} (${total} bytes, ${hash.digest("hex").slice(0, 16)})`;
}
