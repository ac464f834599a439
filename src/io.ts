import type { Readable, Writable } from "node:stream";

/** The streams a run reads and writes; passed in so that tests can run the core in-process. */
export type Io = {
    stdin: Readable;
    stdout: Writable & { isTTY?: boolean; columns?: number };
    stderr: Writable & { isTTY?: boolean };
};

/** The process's streams, whether stdin is a terminal, and the signal that SIGINT/SIGTERM abort. */
export type CliIo = Io & { stdinIsTTY: boolean; signal?: AbortSignal };
