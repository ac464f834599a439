import { once } from "node:events";
import type { Writable } from "node:stream";

/** Writes lines as they come, waiting when the reader is slower; notices when the reader has gone away. */
export class LineWriter {
    /** Set when the reader closed the pipe (`| head`): there is nobody left to write for. */
    closed = false;

    constructor(private readonly stream: Writable) {
        stream.on("error", (error: NodeJS.ErrnoException) => {
            if (error.code !== "EPIPE") throw error;
            this.closed = true;
        });
    }

    async write(line: string): Promise<void> {
        if (this.closed) return;
        if (!this.stream.write(`${line}\n`)) await Promise.race([once(this.stream, "drain"), once(this.stream, "close")]);
    }
}
