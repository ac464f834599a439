import { createHash } from "node:crypto";
import { closeSync, fstatSync, openSync, readSync, realpathSync } from "node:fs";
import { basename } from "node:path";
import type { OutputFormat } from "../formats.js";
import { modelParts } from "../model/findModel.js";
import type { ConversationFields } from "../conversation/toConversation.js";
import type { ResumeSettings } from "../outputs/resumeLog.js";
import type { Shard } from "./shard.js";

/** What of a run's plan the text of its rows depends on. */
export type RowSettings = {
    /** What the rows hold: rewards (score) or the rendered text (render). */
    rows: string;
    modelPath: string;
    field: string;
    rewardToken: number;
    precise: boolean;
    flashAttention: boolean;
    contextSize: number;
    maxRecordBytes: number;
    onOverlong: string;
    contentSpecial: string;
    fields: ConversationFields;
    shard?: Shard;
    /** eval --max-tokens */
    maxTokens?: number;
};

/**
 * What the text of a row depends on, so that a resumed file is never finished with another model or other settings.
 * Not the backend, threads or --parallel: a lost run may go on on another machine.
 */
export function resumeSettings(options: RowSettings, format: OutputFormat, templateSource: string | undefined): ResumeSettings {
    return {
        rows: options.rows,
        format,
        // --server: the server's model, as it names it (a local run's identity of the same file), set when the run starts
        model: options.modelPath === "" ? serverModel : modelIdentity(options.modelPath),
        chatTemplate: templateSource === undefined ? "the model's" : templateDigest(templateSource),
        field: options.field,
        rewardToken: options.rewardToken,
        precise: options.precise,
        flashAttention: options.flashAttention,
        contextSize: options.contextSize,
        maxRecordBytes: options.maxRecordBytes,
        onOverlong: options.onOverlong,
        contentSpecial: options.contentSpecial,
        fields: JSON.stringify(options.fields),
        shard: options.shard === undefined ? "none" : `${options.shard.index}/${options.shard.count}`,
        ...(options.maxTokens !== undefined ? { maxTokens: options.maxTokens } : {}),
    };
}

/** What a remote run's settings say of the model until the server has told which it holds. */
export const serverModel = "the server's";

/**
 * A model file's name (through any symlink), size, and a digest of the first and last MiB of each of its parts: its
 * metadata and some of its weights, so that two checkpoints of the same name and size tell apart without reading
 * tens of gigabytes.
 */
export function modelIdentity(path: string): string {
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

/** A chat template's text, named by a short digest (what a resumed run, or a server's identity, checks). */
export function templateDigest(templateSource: string): string {
    return createHash("sha256").update(templateSource).digest("hex").slice(0, 16);
}
