import type { Writable } from "node:stream";
import { NemoError, exitCodes } from "../errors.js";

/** Writes text as it comes, waiting when the reader is slower; notices when the reader has gone away. */
export class LineWriter {
    /** Set when the reader closed the pipe (`| head`): there is nobody left to write for. */
    closed = false;
    /** A write that failed (a full disk, a lost mount): the run stops with it, as one clear error. */
    private failure: Error | undefined;

    constructor(private readonly stream: Writable, private readonly name: string) {
        stream.on("error", (error: NodeJS.ErrnoException) => {
            if (error.code === "EPIPE") this.closed = true;
            else this.failure = error;
        });
    }

    async write(text: string | Uint8Array): Promise<void> {
        this.throwIfFailed();
        if (this.closed || text.length === 0) return;
        if (!this.stream.write(text)) await this.drained();
        this.throwIfFailed();
    }

    /**
     * Waits until every byte written has gone out (or failed), so that a last write that fails (a full disk, a reader
     * that quit) is an error here rather than lost at exit. `own`: the stream is this writer's to end (a FIFO, a
     * device); standard output is not ended, only drained.
     */
    async end(own: boolean): Promise<void> {
        const stream = this.stream;
        if (own) {
            if (!stream.destroyed) {
                const ended = new Promise<void>((resolve) => {
                    const done = () => resolve();
                    stream.once("close", done).once("error", done).once("finish", done);
                });
                stream.end();
                await ended;
            }
        } else if (stream.writableLength > 0 && !stream.destroyed) {
            await this.drained();
        }
        // an error of the last write is emitted on the next turn
        await new Promise((resolve) => setImmediate(resolve));
        this.throwIfFailed();
    }

    /** Resolves once the stream has taken what it buffered, or can take nothing more (closed, failed). */
    private drained(): Promise<void> {
        return new Promise((resolve) => {
            const done = () => {
                this.stream.off("drain", done).off("close", done).off("error", done);
                resolve();
            };
            this.stream.on("drain", done).on("close", done).on("error", done);
        });
    }

    private throwIfFailed(): void {
        if (this.failure !== undefined)
            throw new NemoError(`cannot write ${this.name}: ${this.failure.message}`, exitCodes.failure, { cause: this.failure });
    }
}
