import type { Writable } from "node:stream";
import { NemoError, exitCodes } from "../errors.js";

/** Writes text as it comes, waiting when the reader is slower; notices when the reader has gone away. */
export class LineWriter {
    /** Set when the reader closed the pipe (`| head`): there is nobody left to write for. */
    closed = false;
    /** A write that failed (a full disk, a lost mount): the run stops with it, as one clear error. */
    private failure: Error | undefined;

    constructor(private readonly stream: Writable) {
        stream.on("error", (error: NodeJS.ErrnoException) => {
            if (error.code === "EPIPE") this.closed = true;
            else this.failure = error;
        });
    }

    async write(text: string | Uint8Array): Promise<void> {
        this.throwIfFailed();
        if (this.closed || text.length === 0) return;
        if (!this.stream.write(text)) {
            await new Promise<void>((resolve) => {
                const done = () => {
                    this.stream.off("drain", done).off("close", done).off("error", done);
                    resolve();
                };
                this.stream.on("drain", done).on("close", done).on("error", done);
            });
        }
        this.throwIfFailed();
    }

    private throwIfFailed(): void {
        if (this.failure !== undefined)
            throw new NemoError(`cannot write the output: ${this.failure.message}`, exitCodes.failure, { cause: this.failure });
    }
}
