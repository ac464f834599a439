import { Readable } from "node:stream";
import { nextUnlessAborted } from "../abortable.js";
import { parseRecord } from "../records/json.js";
import { isBlank } from "./blank.js";
import { refuseDelimitedStdin } from "./refuseDelimitedStdin.js";

/** How much of standard input is looked at for its first line. */
const peekBytes = 64 * 1024;

/**
 * CSV or TSV on standard input read as JSONL, refused before anything slow starts (a 70B model loads for minutes):
 * standard input is read up to its first line that is not blank (or 64 KiB), that line checked as the reader checks
 * it (refuseDelimitedStdin), and a stream returned that gives what was read, then the rest, for the run to read.
 * An interrupt before the first line comes stops the wait; the run then sees the signal.
 */
export async function refuseDelimitedStdinEarly(stdin: Readable, signal: AbortSignal | undefined): Promise<Readable> {
    const iterator: AsyncIterator<Buffer | string> = stdin[Symbol.asyncIterator]();
    const read: (Buffer | string)[] = [];
    let text = "";
    let ended = false;
    while (!ended && text.length < peekBytes && !text.split("\n").slice(0, -1).some((line) => !isBlank(line))) {
        const next = await nextUnlessAborted(iterator, signal);
        if (next === undefined || next.done) ended = true;
        else {
            read.push(next.value);
            text += typeof next.value === "string" ? next.value : next.value.toString("utf8");
        }
    }
    // what was read, then the rest; destroying it (the run stops reading: an interrupt) destroys standard input
    const peeked = new Readable({
        objectMode: stdin.readableObjectMode,
        read() {
            if (read.length > 0) this.push(read.shift());
            else if (ended) this.push(null);
            else iterator.next().then((next) => this.push(next.done ? null : next.value), (error: Error) => this.destroy(error));
        },
        destroy(error, callback) {
            stdin.destroy();
            callback(error);
        },
    });
    const first = text.replace(/^\ufeff/, "").split("\n").find((line) => !isBlank(line));
    if (first !== undefined) {
        const line = first.replace(/\r$/, "");
        try {
            refuseDelimitedStdin({ source: { name: "<stdin>", format: "jsonl" }, line: 1, text: line, ...parseRecord(line) });
        } catch (error) {
            peeked.destroy();
            throw error;
        }
    }
    return peeked;
}
