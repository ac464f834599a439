/** Why a row queued by a request that has ended (timed out, the client gone) never ran. */
export class Cancelled extends Error {
    override name = "Cancelled";
}

type Job = { start: () => void; cancel: (error: Error) => void };

/**
 * The server's one queue: every row of every request waits here, first come first served, and at most `concurrency`
 * rows are in the engine at once (as many as `score` keeps in flight: enough to fill the engine's parallel sequences,
 * with the next rows rendered and tokenized meanwhile). `limit` bounds the rows waiting: a request that would pass
 * it is refused whole (429), never half queued.
 */
export class RowQueue {
    private readonly waiting: Job[] = [];
    private running = 0;

    constructor(private readonly concurrency: number, readonly limit: number) {}

    /** Rows waiting for the engine. */
    get depth(): number {
        return this.waiting.length;
    }

    /** Rows in the engine. */
    get active(): number {
        return this.running;
    }

    /** Whether `rows` more rows fit in the queue. */
    admits(rows: number): boolean {
        return this.waiting.length + rows <= this.limit;
    }

    /** Runs `work` when its turn comes; a row still waiting when `signal` aborts is dropped (Cancelled). */
    run<T>(work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
        return new Promise<T>((resolve, reject) => {
            const onAbort = () => job.cancel(new Cancelled("the request ended before this row's turn"));
            const job: Job = {
                start: () => {
                    signal?.removeEventListener("abort", onAbort);
                    this.running++;
                    work().then(resolve, reject).finally(() => {
                        this.running--;
                        this.next();
                    });
                },
                cancel: (error) => {
                    const at = this.waiting.indexOf(job);
                    if (at === -1) return;
                    this.waiting.splice(at, 1);
                    reject(error);
                },
            };
            if (signal?.aborted) return reject(new Cancelled("the request ended before this row's turn"));
            signal?.addEventListener("abort", onAbort, { once: true });
            this.waiting.push(job);
            this.next();
        });
    }

    private next(): void {
        while (this.running < this.concurrency && this.waiting.length > 0) this.waiting.shift()!.start();
    }
}
