/**
 * The next row, or undefined once the signal aborts: a signal must not wait for a row that may be long in coming on
 * a pipe. It listens only while this read is pending; a listener left on the signal (or a race with a promise that
 * never settles) per read would keep every row read alive until the end of the run.
 */
export function nextUnlessAborted<T>(rows: AsyncIterator<T>, signal: AbortSignal | undefined): Promise<IteratorResult<T> | undefined> {
    if (signal === undefined) return rows.next();
    if (signal.aborted) return Promise.resolve(undefined);
    return new Promise((resolve, reject) => {
        const onAbort = () => resolve(undefined); // the read given up on settles later, unheard
        signal.addEventListener("abort", onAbort, { once: true });
        rows.next().then(
            (next) => { signal.removeEventListener("abort", onAbort); resolve(next); },
            (error: unknown) => { signal.removeEventListener("abort", onAbort); reject(error); },
        );
    });
}
