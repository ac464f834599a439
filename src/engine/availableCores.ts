import { availableParallelism } from "node:os";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";

/**
 * The cores this process may really use: CPU affinity, capped by a cgroup v2 CPU quota.
 * llama.cpp's own default counts the machine's cores and oversubscribes containers and small VMs.
 */
export function availableCores(): number {
    const affinity = availableParallelism();
    try {
        const [quota, period] = readFileSync("/sys/fs/cgroup/cpu.max", "utf8").trim().split(/\s+/);
        if (quota !== undefined && quota !== "max" && period !== undefined)
            return Math.max(1, Math.min(affinity, Math.ceil(Number(quota) / Number(period))));
    } catch {
        // no cgroup v2 quota visible: affinity is all we know
    }
    return affinity;
}

/**
 * `--threads` when not given: $NEMOREWARD_THREADS (how a test suite or a shared machine caps every run), else "auto":
 * the available cores that other processes leave free (freeCores.ts).
 */
export function defaultThreads(): number | "auto" {
    const env = process.env["NEMOREWARD_THREADS"];
    if (env === undefined || env === "") return "auto";
    if (!/^\d+$/.test(env.trim()) || Number(env) < 1) throw new UsageError(`NEMOREWARD_THREADS must be a whole number of at least 1, not ${JSON.stringify(env)}`);
    return Number(env);
}
