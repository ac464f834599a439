import ora, { type Ora } from "ora";
import type { Log } from "../log.js";
import { plural } from "../plural.js";


/** Rows and tokens done so far, on stderr: an ora spinner on a terminal, a plain line every few seconds elsewhere. */
export class Progress {
    private readonly started = performance.now();
    private rows = 0;
    private failed = 0;
    private skipped = 0;
    private tokens = 0;
    private lastPlain = this.started;
    private readonly spinner: Ora | undefined;

    constructor(
        private readonly log: Log,
        private readonly verb: string,
        private readonly total?: number,
        /** How often the plain line is printed when stderr is not a terminal. */
        private readonly plainEverySeconds = 5,
        /** Whether rows cost tokens (a model's run) to be counted; not when the rows hold their rewards. */
        private readonly countsTokens = true,
    ) {
        // ora needs a terminal width: under `script` or some CI pseudo-terminals there is none, and it loops
        const columns = (log.stderr as { columns?: number }).columns ?? 0;
        if (!log.quiet && log.stderr.isTTY && columns > 0)
            this.spinner = ora({ stream: log.stderr, text: `${verb}…`, discardStdin: false }).start();
    }

    row(tokens: number, failed: boolean, skipped = false): void {
        this.rows++;
        this.tokens += tokens;
        if (failed) this.failed++;
        if (skipped) this.skipped++;
        if (this.log.quiet) return;
        const now = performance.now();
        if (this.spinner) this.spinner.text = this.line(now);
        else if (now - this.lastPlain >= this.plainEverySeconds * 1000) {
            this.lastPlain = now;
            this.log.info(this.line(now));
        }
    }

    /** Stops the spinner and prints the summary line. */
    finish(extra = ""): void {
        this.spinner?.stop();
        this.log.info(`${this.line(performance.now(), false)}${extra}`);
    }

    /** Hands the terminal line over to a message, then redraws the spinner. */
    interrupt(print: () => void): void {
        if (!this.spinner) return print();
        this.spinner.clear();
        print();
        this.spinner.render();
    }

    private line(now: number, eta = true): string {
        const seconds = Math.max((now - this.started) / 1000, 1e-9);
        // "scored 97 of 1000 rows (2 not, 1 skipped)": the rows done, of all there are (or of those read so far), and the rest
        const rest = [...(this.failed > 0 ? [`${this.failed} not`] : []), ...(this.skipped > 0 ? [`${this.skipped} skipped`] : [])];
        const errors = rest.length > 0 ? ` (${rest.join(", ")})` : "";
        const rate = this.rows / seconds;
        const done = this.rows - this.failed - this.skipped;
        // "scored 1 row", "scored 0 of 1 row", "scored 2 of 3 rows": the noun goes with the last number
        const of = this.total !== undefined && this.total > 0 ? this.total : rest.length > 0 ? this.rows : undefined;
        const counted = of === undefined ? plural(done, "row") : `${done} of ${plural(of, "row")}`;
        const left = !eta || this.total === undefined || this.rows === 0 || this.rows >= this.total ? ""
            : `, ETA ${duration((this.total - this.rows) / rate)}`;
        const tokens = this.countsTokens ? [`${this.tokens} tokens`, `${Math.round(this.tokens / seconds)} tokens/s`] : ["", ""];
        return `${this.verb} ${counted}${errors}${tokens[0] === "" ? "" : `, ${tokens[0]}`} in ${duration(seconds)} ` +
            `(${rate.toFixed(1)} rows/s${tokens[1] === "" ? "" : `, ${tokens[1]}`}${left})`;
    }
}

function duration(seconds: number): string {
    if (seconds < 60) return `${seconds.toFixed(1)} s`;
    const s = Math.round(seconds);
    const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
    return h > 0 ? `${h} h ${m} min` : `${m} min ${s % 60} s`;
}
