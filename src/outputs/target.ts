import { accessSync, constants, fstatSync, lstatSync, readlinkSync, realpathSync, statSync, type Stats } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { UsageError } from "../errors.js";

/**
 * Where an output goes. A file is known by its real path: symlinks, `./` and relative names all lead there, and its
 * lock and records (`.lock`, `.resume`, `.shard`, `.partial`) sit beside it, so that every name of one file meets
 * the same lock. A pipe or a device (a FIFO, `/dev/null`), and a descriptor the run was given (`/dev/stdout`,
 * `/dev/fd/N`, `>(cmd)`, whatever it leads to), is written as a stream, appended to, without records.
 */
export type Target =
    | { kind: "stdout" }
    | { kind: "stream"; shown: string; path: string }
    | { kind: "file"; shown: string; real: string; exists: boolean };

/** Resolves `-o FILE` (and the like) before anything is written; a usage error for what cannot be written. */
export function resolveTarget(path: string): Target {
    const real = realPath(path);
    if (descriptor.test(real)) return { kind: "stream", shown: path, path: real };
    // a record file of an output, by its name or through a link: another run's record must never be this run's file
    if (recordSuffixes.some((suffix) => path.endsWith(suffix) || real.endsWith(suffix)))
        throw new UsageError(`cannot write ${path}: names ending in ${recordSuffixes.join(", ")} are the files nemoreward keeps beside its outputs; name it otherwise`);
    const stat = statSync(real, { throwIfNoEntry: false });
    if (stat?.isDirectory()) throw new UsageError(`cannot write ${path}: it is a folder`);
    if (stat !== undefined && !stat.isFile()) return { kind: "stream", shown: path, path: real };
    if (stat === undefined) {
        const folder = dirname(real);
        try {
            accessSync(folder, constants.W_OK);
        } catch (error) {
            const reason = (error as NodeJS.ErrnoException).code === "ENOENT" ? "there is no folder" : "cannot write in folder";
            throw new UsageError(`cannot write ${path}: ${reason} ${dirname(path)}`);
        }
    }
    return { kind: "file", shown: path, real, exists: stat !== undefined };
}

/**
 * A descriptor of a process (`/dev/stdout` leads to `/proc/self/fd/1`): its link's text is no path (`pipe:[123]`,
 * or the name a file had when it was opened), so it is opened as it is, never followed.
 */
const descriptor = /^\/(proc\/[^/]+|dev)\/fd\/\d+$|^\/dev\/std(in|out|err)$/;

/**
 * The path every name of a file leads to: symlinks followed (also a dangling one, to where it would create the file),
 * up to a process's descriptor, which is returned as it is.
 */
function realPath(path: string): string {
    let at = resolve(path);
    for (let hops = 0; hops < 40; hops++) {
        // the folder's own links first (`fd/1` where fd leads to /proc/self/fd): a descriptor under any name is one
        try {
            at = join(realpathSync(dirname(at)), basename(at));
        } catch { /* no such folder: resolveTarget says so */ }
        if (descriptor.test(at)) return at;
        const link = lstatSync(at, { throwIfNoEntry: false });
        if (link === undefined) {
            const folder = dirname(at);
            try {
                return join(realpathSync(folder), basename(at));
            } catch {
                return at; // no such folder: resolveTarget says so
            }
        }
        if (!link.isSymbolicLink()) return realpathSync(at);
        at = resolve(dirname(at), readlinkSync(at));
    }
    throw new UsageError(`cannot write ${path}: too many symbolic links`);
}

/** The file a record of an output sits in: `FILE.resume`, `FILE.shard`, ... beside the file's real path. */
export function recordPath(target: Extract<Target, { kind: "file" }>, suffix: RecordSuffix): string {
    return `${target.real}${suffix}`;
}

/** The files a run keeps beside an output FILE. */
export const recordSuffixes = [".resume", ".shard", ".lock", ".partial"] as const;
export type RecordSuffix = (typeof recordSuffixes)[number];

/** A file's identity (device and inode): the same file under any name, hard links included. */
export function identity(stat: Stats | undefined): string | undefined {
    return stat === undefined ? undefined : `${stat.dev}:${stat.ino}`;
}

/** What standard input is: `< FILE` makes it that file. */
export function standardInput(): Stats | undefined {
    try {
        return fstatSync(0);
    } catch {
        return undefined;
    }
}
