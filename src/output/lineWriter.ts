import type { Writable } from "node:stream";

/** Writes text as it comes, waiting when the reader is slower; notices when the reader has gone away. */
export class LineWriter {
    /** Set when the reader closed the pipe (`| head`): there is nobody left to write for. */
    closed = false;

    constructor(private readonly stream: Writable) {
        stream.on("error", (error: NodeJS.ErrnoException) => {
            if (error.code !== "EPIPE") throw error;
            this.closed = true;
        });
    }

    async write(text: string): Promise<void> {
        if (this.closed || text === "") return;
        if (this.stream.write(text)) return;
        await new Promise<void>((resolve) => {
            const done = () => {
                this.stream.off("drain", done).off("close", done).off("error", done);
                resolve();
            };
            this.stream.on("drain", done).on("close", done).on("error", done);
        });
    }
}
