import { hostname } from "node:os";
import { readFileSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/** How often the holder of a lock marks it as alive, and how long a lock from another machine is trusted without. */
const beatMs = 5_000, staleMs = 30_000;
/** How long a run on this host that holds the lock is given to end before a second run is refused. */
const endingMs = 3_000;

/** The locks this process holds: a lock file with this process's pid is live only when it is one of them. */
const held = new Set<string>();

/**
 * Takes `FILE.lock` beside the file's real path (target.ts: every name of a file leads there), so that one run at a
 * time writes FILE and its records: created only if absent (O_EXCL), holding this process's pid and host. A lock left
 * by a run that is gone (killed, its machine lost) is taken over: on this host when its pid no longer runs, from
 * another host when it has not been marked alive for 30 s. `shown`: the file as the user named it. Returns the release.
 */
export function takeLock(real: string, shown: string): () => void {
    const lockPath = `${real}.lock`;
    for (let attempt = 0; ; attempt++) {
        try {
            writeFileSync(lockPath, `${JSON.stringify({ pid: process.pid, host: hostname() })}\n`, { flag: "wx" });
            held.add(lockPath);
            break;
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
            const holder = ending(lockPath);
            if (attempt > 0 || holder !== undefined)
                throw new UsageError(`${shown} is being written by another run (${holder ?? "unknown"}): wait for it to finish, ` +
                    `or remove ${lockPath} if no such run is going on`);
            rmSync(lockPath, { force: true });
        }
    }
    const beat = setInterval(() => {
        try {
            const now = new Date();
            utimesSync(lockPath, now, now);
        } catch { /* removed by hand: nothing to keep alive */ }
    }, beatMs).unref();
    let holding = true;
    return () => {
        if (!holding) return;
        holding = false;
        held.delete(lockPath);
        clearInterval(beat);
        rmSync(lockPath, { force: true });
    };
}

/**
 * Who holds the lock after giving a run on this host a moment to end: a run killed with its supervisor (bin/) ends
 * itself a little later, and its lock with it.
 */
function ending(lockPath: string): string | undefined {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let holder = lockHolder(lockPath);
    if (held.has(lockPath)) return holder; // this very process: it cannot end while it waits here
    for (let waited = 0; holder !== undefined && holder.endsWith(` on ${hostname()}`) && waited < endingMs; waited += 50) {
        Atomics.wait(pause, 0, 0, 50);
        holder = lockHolder(lockPath);
    }
    return holder;
}

/** Who holds the lock, or undefined when it was left by a run that is gone. */
function lockHolder(lockPath: string): string | undefined {
    let holder: { pid?: unknown; host?: unknown } = {};
    const stat = statSync(lockPath, { throwIfNoEntry: false });
    if (stat === undefined) return undefined; // released meanwhile
    const age = Date.now() - stat.mtimeMs;
    try {
        holder = JSON.parse(readFileSync(lockPath, "utf8")) as typeof holder;
    } catch { /* gone meanwhile, or being written: judged by its age */ }
    const named = `pid ${String(holder.pid)} on ${String(holder.host)}`;
    if (typeof holder.pid !== "number" || holder.host !== hostname()) return age < staleMs ? named : undefined;
    // this process: live when it holds the lock now; else a restarted container runs with the pid its killed run had
    if (holder.pid === process.pid) return held.has(lockPath) ? named : undefined;
    try {
        process.kill(holder.pid, 0);
        return named;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM" ? named : undefined;
    }
}
