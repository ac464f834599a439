import type { Readable, Writable } from "node:stream";

/** The streams a run reads and writes; passed in so that tests can run the core in-process. */
export type Io = {
    stdin: Readable;
    stdout: Writable & { isTTY?: boolean; columns?: number };
    stderr: Writable & { isTTY?: boolean };
};

/** The process's streams, whether stdin is a terminal, and the signal that SIGINT/SIGTERM abort. */
export type CliIo = Io & {
    stdinIsTTY: boolean;
    signal?: AbortSignal;
    /** The environment the run reads (a scheduler's variables for `--shard auto`); the process's by default. */
    env?: Readonly<Record<string, string | undefined>>;
};

const guarded = new WeakSet<Writable>();

/**
 * Messages for people never stop the data: once stderr's reader is gone (`2> >(head -c 10)`), a write to it fails
 * with EPIPE, which would end the process unheard. Its errors are taken here, and later messages go nowhere.
 */
export function guardStderr(stream: Writable): void {
    if (guarded.has(stream)) return;
    guarded.add(stream);
    stream.on("error", () => undefined);
}
