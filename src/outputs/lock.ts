import { randomUUID } from "node:crypto";
import { hostname } from "node:os";
import { linkSync, readFileSync, readlinkSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from "node:fs";
import { exitCodes, NemoError } from "../errors.js";

/** How often the holder of a lock marks it as alive, and how long a lock from another machine is trusted without. */
const beatMs = 5_000, staleMs = 30_000;
/** How long a run whose supervisor is gone (it is ending itself) is given to end before a second run is refused. */
const endingMs = 3_000;

/** The locks this process holds: a lock file naming this very process is live only when it is one of them. */
const held = new Set<string>();

/** A process on this machine, told apart from a later one given the same pid by when it started. */
type Proc = { pid: number; started?: number };

/**
 * What a lock file holds. `pids`: the process's pid namespace (Linux): runs in two containers of one host share its
 * name but not their pids, so a pid from another namespace says nothing here.
 */
type LockText = Proc & { host: string; pids?: string; token: string; supervisor?: Proc };

/** This process's pid namespace (`pid:[4026531836]`), where the system tells. */
const pidNamespace = (() => {
    try {
        return readlinkSync("/proc/self/ns/pid");
    } catch {
        return undefined;
    }
})();

/**
 * Takes `FILE.lock` beside the file's real path (target.ts: every name of a file leads there), so that one run at a
 * time writes FILE and its records: created only if absent (O_EXCL), naming this process (pid and start time), its
 * supervisor, its host (and pid namespace) and a token of its own. A second run is refused while the holder runs. A
 * lock left by a run that is gone (killed, its machine lost) is taken over: on this host and in this pid namespace
 * when its process no longer runs (a pid given to another process since counts as gone: its start time differs),
 * from another host or another container's pid namespace when it has not been marked alive for 30 s. A holder whose supervisor is gone is ending itself: it is given 3 s.
 * Taking over moves that very lock aside (a rename only one run can make) and checks it was the one judged stale, so
 * that two runs that find one stale lock never both take it. `shown`: the file as the user named it. Returns the
 * release.
 */
export function takeLock(real: string, shown: string): () => void {
    const lockPath = `${real}.lock`;
    const self = thisProcess();
    const lock: LockText = { ...self, host: hostname(), ...(pidNamespace !== undefined ? { pids: pidNamespace } : {}), token: randomUUID(), ...(process.send !== undefined ? { supervisor: processOf(process.ppid) } : {}) };
    const mine = `${JSON.stringify(lock)}\n`;
    let holder: string | undefined;
    for (let attempt = 0; attempt < 5 && holder === undefined; attempt++) {
        try {
            writeFileSync(lockPath, mine, { flag: "wx" });
            held.add(lockPath);
            return keepAlive(lockPath);
        } catch (error) {
            if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
        }
        const judged = judge(lockPath);
        holder = judged.holder;
        if (holder === undefined && judged.text !== undefined) moveAside(lockPath, judged.text);
    }
    throw new NemoError(`${shown} is being written by another run (${holder ?? "unknown"}): wait for it to finish, ` +
        `or remove ${lockPath} if no such run is going on`, exitCodes.busy);
}

function keepAlive(lockPath: string): () => void {
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
 * Removes the stale lock whose text is `text`, and only it: a lock another run took meanwhile (it removed the stale
 * one first) is put back where it was.
 */
function moveAside(lockPath: string, text: string): void {
    const aside = `${lockPath}.${process.pid}.${randomUUID()}.aside`;
    try {
        renameSync(lockPath, aside);
    } catch {
        return; // gone meanwhile: look again
    }
    try {
        if (readFileSync(aside, "utf8") !== text) linkSync(aside, lockPath); // not the one judged: put back (never over a newer one)
    } catch { /* a newer lock is in place: it is the holder now */ }
    rmSync(aside, { force: true });
}

/**
 * Who holds the lock (undefined: nobody, it may be taken over), and the lock's text that judgement was made on. A
 * holder that is ending (its supervisor gone) is waited for, a moment.
 */
function judge(lockPath: string): { holder: string | undefined; text: string | undefined } {
    const pause = new Int32Array(new SharedArrayBuffer(4));
    let judged = lockHolder(lockPath);
    for (let waited = 0; judged.ending && waited < endingMs; waited += 50) {
        Atomics.wait(pause, 0, 0, 50);
        judged = lockHolder(lockPath);
    }
    return judged;
}

/** Who holds the lock (undefined when it was left by a run that is gone), and its text. */
function lockHolder(lockPath: string): { holder: string | undefined; text: string | undefined; ending?: boolean } {
    const stat = statSync(lockPath, { throwIfNoEntry: false });
    if (stat === undefined) return { holder: undefined, text: undefined }; // released meanwhile
    const age = Date.now() - stat.mtimeMs;
    let text: string | undefined;
    let lock: Partial<LockText> = {};
    try {
        text = readFileSync(lockPath, "utf8");
        lock = JSON.parse(text) as typeof lock;
    } catch { /* gone meanwhile, or being written: judged by its age */ }
    const named = `pid ${String(lock.pid)} on ${String(lock.host)}`;
    const judged = (live: boolean, ending = false) => ({ holder: live ? named : undefined, text, ending });
    // another machine, or another container of this one (its pids are not ours to look up): judged by its heartbeat
    if (typeof lock.pid !== "number" || lock.host !== hostname() || (lock.pids !== undefined && lock.pids !== pidNamespace)) return judged(age < staleMs);
    // this process: live when it holds the lock now
    if (lock.pid === process.pid && lock.started === thisProcess().started) return judged(held.has(lockPath));
    if (!runs(lock as Proc)) return judged(false);
    // its supervisor gone (SIGKILLed), the run ends itself at once: a resumed run started meanwhile waits for it
    return judged(true, lock.supervisor !== undefined && !runs(lock.supervisor));
}

/** Whether a process runs: the same pid, and (where the system tells) the same start. */
function runs(proc: Proc): boolean {
    if (typeof proc.started === "number") {
        const started = startOf(proc.pid);
        if (started !== undefined || procFolder) return started === proc.started;
    }
    try {
        process.kill(proc.pid, 0);
        return true;
    } catch (error) {
        return (error as NodeJS.ErrnoException).code === "EPERM";
    }
}

/** Whether the system has /proc (Linux): a process's start time is read there. */
const procFolder = statSync("/proc/self/stat", { throwIfNoEntry: false }) !== undefined;

function thisProcess(): Proc {
    return processOf(process.pid);
}

function processOf(pid: number): Proc {
    const started = startOf(pid);
    return started === undefined ? { pid } : { pid, started };
}

/** When a process started, in clock ticks since boot (/proc/PID/stat, field 22); undefined where there is no such process or no /proc. */
function startOf(pid: number): number | undefined {
    try {
        const stat = readFileSync(`/proc/${pid}/stat`, "latin1");
        // the command name, in parentheses, may hold spaces: the fields are counted after its closing one
        const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
        const started = Number(fields[19]);
        return Number.isFinite(started) ? started : undefined;
    } catch {
        return undefined;
    }
}
