import { cpus } from "node:os";

/** CPU time counters at one moment: the whole machine's busy time and this process's own, in milliseconds. */
export type CpuSample = { at: number; cpus: number; busyMs: number; ownMs: number };

export function cpuSample(): CpuSample {
    const all = cpus();
    let busyMs = 0;
    for (const { times } of all) busyMs += times.user + times.nice + times.sys + times.irq;
    const own = process.cpuUsage();
    return { at: performance.now(), cpus: all.length, busyMs, ownMs: (own.user + own.system) / 1000 };
}

/**
 * The threads to use between two samples: the machine's cores less those that other processes kept busy, at least
 * one and at most `max`. This process's own time (its spinning threads included) does not count against it.
 */
export function freeCores(before: CpuSample, after: CpuSample, max: number): number {
    const elapsed = after.at - before.at;
    if (elapsed <= 0) return max;
    const others = Math.max(0, after.busyMs - before.busyMs - (after.ownMs - before.ownMs)) / elapsed;
    return Math.max(1, Math.min(max, Math.round(after.cpus - others)));
}

/**
 * Calls `apply` with the free cores (at most `max`) since `since` (default: all `max`), then every `everyMs` whenever
 * their number changes.
 * llama.cpp's worker threads spin at every barrier: when another process takes one of their cores, the others spin
 * through its time slice, and a run beside one busy process took 29× as long with 2 threads as with 1.
 */
export function followFreeCores(max: number, apply: (threads: number) => void,
    { since, everyMs = 1000, sample = cpuSample }: { since?: CpuSample; everyMs?: number; sample?: () => CpuSample } = {},
): { stop(): void } {
    let last = sample();
    let threads = since === undefined ? max : freeCores(since, last, max);
    apply(threads);
    const timer = setInterval(() => {
        const now = sample();
        const next = freeCores(last, now, max);
        last = now;
        if (next !== threads) apply((threads = next));
    }, everyMs);
    timer.unref();
    return { stop: () => clearInterval(timer) };
}
