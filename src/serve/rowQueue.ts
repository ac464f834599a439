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
    private waiting: Job[] = [];
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

    /**
     * Runs each of a request's rows when its turn comes; the rows still waiting when `signal` aborts are dropped
     * (Cancelled). One listener on the signal for them all, removed once every row has left the queue.
     */
    runAll<T>(works: (() => Promise<T>)[], signal?: AbortSignal): Promise<T>[] {
        const jobs: Job[] = [];
        let waiting = works.length;
        const left = () => {
            if (--waiting === 0) signal?.removeEventListener("abort", onAbort);
        };
        const onAbort = () => {
            // one pass over the queue for all the request's rows (a request of thousands, a queue of tens of thousands)
            const mine = new Set(jobs);
            const dropped = this.waiting.filter((job) => mine.has(job));
            this.waiting = this.waiting.filter((job) => !mine.has(job));
            for (const job of dropped) job.cancel(new Cancelled("the request ended before this row's turn"));
        };
        const promises = works.map((work) => new Promise<T>((resolve, reject) => {
            const job: Job = {
                start: () => {
                    left();
                    this.running++;
                    work().then(resolve, reject).finally(() => {
                        this.running--;
                        this.next();
                    });
                },
                // taken out of the queue by onAbort
                cancel: (error) => {
                    left();
                    reject(error);
                },
            };
            jobs.push(job);
        }));
        this.waiting.push(...jobs);
        if (signal?.aborted) onAbort();
        else if (jobs.length > 0) signal?.addEventListener("abort", onAbort, { once: true });
        this.next();
        return promises;
    }

    private next(): void {
        while (this.running < this.concurrency && this.waiting.length > 0) this.waiting.shift()!.start();
    }
}
