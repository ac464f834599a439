import { readdirSync, readFileSync, readlinkSync, realpathSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/**
 * The descriptors beyond 0-2 that a command line names (`-o /dev/fd/5` with `5>> log`, `score <(zcat f.gz)`, a
 * link to /proc/self/fd), which the run's process (a child of the supervisor) must get at the same numbers: the
 * supervisor's Node marks them close-on-exec, and the run's own descriptors would take their numbers. Returns the
 * numbers, or the reason one cannot be given (it was not open when nemoreward started). Linux only (/proc); elsewhere
 * none.
 */
export function namedDescriptors(args: readonly string[]): { fds: number[] } | { refused: string } {
    const fds = new Set<number>();
    for (const arg of args) {
        const value = arg.startsWith("-") && arg.includes("=") ? arg.slice(arg.indexOf("=") + 1) : arg;
        const fd = descriptorOf(value);
        if (fd === undefined || fd <= 2) continue;
        if (!given(fd)) return { refused: `${value} names descriptor ${fd}, which was not open when nemoreward started (open it: ${fd}> FILE, ${fd}< FILE)` };
        fds.add(fd);
    }
    return { fds: [...fds].sort((a, b) => a - b) };
}

/** The descriptor a path names in this process (through any link to /proc/self/fd or /dev/fd), if any. */
function descriptorOf(path: string): number | undefined {
    let real: string;
    try {
        real = join(realpathSync(dirname(resolve(path))), basename(path));
    } catch {
        return undefined;
    }
    const match = new RegExp(`^/proc/(?:self|${process.pid})/fd/(\\d+)$`).exec(real);
    return match === null ? undefined : Number(match[1]);
}

/**
 * Whether descriptor `fd` of this process is one it was given, not one Node opened for itself: Node's own are an
 * event poll, event fds, and pipes whose both ends it holds.
 */
function given(fd: number): boolean {
    let target: string;
    try {
        target = readlinkSync(`/proc/self/fd/${fd}`);
    } catch {
        return false;
    }
    if (target.startsWith("anon_inode:")) return false;
    if (!target.startsWith("pipe:")) return true;
    const direction = (n: number | string) => Number(/flags:\s*([0-7]+)/.exec(readFileSync(`/proc/self/fdinfo/${n}`, "latin1"))?.[1] ?? "0") & 3;
    const mine = direction(fd);
    for (const other of readdirSync("/proc/self/fd")) {
        if (Number(other) === fd) continue;
        try {
            if (readlinkSync(`/proc/self/fd/${other}`) === target && direction(other) !== mine) return false;
        } catch { /* the folder's own descriptor, closed by now */ }
    }
    return true;
}
