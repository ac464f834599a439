import { UsageError } from "../errors.js";
import type { Shard } from "./shard.js";

/** `--shard auto` or `auto/N`: the shard is read from the scheduler's own variables (`count`: N, when given). */
export type AutoShard = { auto: true; count?: number };

type Env = Readonly<Record<string, string | undefined>>;

/** One scheduler's reading of the environment: this task's position in its array and the array's size, if it says. */
type Found = { scheduler: string; index: number; count?: number; names: string };

/**
 * The schedulers whose array tasks know their place from the environment. Each gives the 0-based position of this
 * task and, but for Kubernetes, how many tasks there are; `undefined` when its variables are not set.
 */
const schedulers: { names: string; read: (env: Env) => Found | undefined }[] = [
    {
        // ids may start anywhere and skip (--array=1-8, --array=0-14:2): the shard is the task's position in the array
        names: "SLURM_ARRAY_TASK_ID (with _MIN, _MAX, _STEP, _COUNT)",
        read: (env) => {
            const id = integer(env, "SLURM_ARRAY_TASK_ID");
            if (id === undefined) return undefined;
            const min = integer(env, "SLURM_ARRAY_TASK_MIN") ?? 0;
            const max = integer(env, "SLURM_ARRAY_TASK_MAX");
            const step = integer(env, "SLURM_ARRAY_TASK_STEP") ?? 1;
            const spanned = max === undefined ? undefined : Math.floor((max - min) / step) + 1;
            const count = integer(env, "SLURM_ARRAY_TASK_COUNT") ?? spanned;
            if (id < min || (max !== undefined && id > max))
                throw new UsageError(`--shard auto: SLURM_ARRAY_TASK_ID=${id} is outside the array (${min}-${max ?? "?"}) that SLURM_ARRAY_TASK_MIN and _MAX give`);
            if (step < 1 || (id - min) % step !== 0 || (spanned !== undefined && count !== spanned))
                throw new UsageError(`--shard auto: the Slurm array (ids ${min}-${max ?? "?"}, step ${step}, ${count ?? "?"} tasks) is not an evenly spaced range, ` +
                    "so a task's id does not say its place: give --shard K/N, or submit --array=A-B[:STEP]");
            return { scheduler: "Slurm", index: (id - min) / step, count, names: "SLURM_ARRAY_TASK_*" };
        },
    },
    { names: "JOB_COMPLETION_INDEX (Kubernetes Indexed Job; with --shard auto/N)", read: (env) => plain(env, "Kubernetes", "JOB_COMPLETION_INDEX") },
    { names: "AWS_BATCH_JOB_ARRAY_INDEX and _SIZE", read: (env) => plain(env, "AWS Batch", "AWS_BATCH_JOB_ARRAY_INDEX", "AWS_BATCH_JOB_ARRAY_SIZE") },
    { names: "BATCH_TASK_INDEX and BATCH_TASK_COUNT (Google Batch)", read: (env) => plain(env, "Google Batch", "BATCH_TASK_INDEX", "BATCH_TASK_COUNT") },
    { names: "CLOUD_RUN_TASK_INDEX and CLOUD_RUN_TASK_COUNT", read: (env) => plain(env, "Cloud Run", "CLOUD_RUN_TASK_INDEX", "CLOUD_RUN_TASK_COUNT") },
];

function plain(env: Env, scheduler: string, indexName: string, countName?: string): Found | undefined {
    const index = integer(env, indexName);
    if (index === undefined) return undefined;
    const count = countName === undefined ? undefined : integer(env, countName);
    return { scheduler, index, count, names: countName === undefined ? indexName : `${indexName}/${countName}` };
}

/** A variable's whole number, or undefined when it is not set; set to anything else, it is refused. */
function integer(env: Env, name: string): number | undefined {
    const text = env[name];
    if (text === undefined || text === "") return undefined;
    if (!/^\d+$/.test(text.trim())) throw new UsageError(`--shard auto: ${name}=${text} is not a whole number`);
    return Number(text);
}

/**
 * This task's shard from the scheduler's variables. Refused (before anything is read) when no scheduler's are set,
 * when two schedulers' disagree, when none gives a count and `auto/N` does not, and when `auto/N` differs from the
 * count the scheduler gives.
 */
export function shardFromEnvironment(auto: AutoShard, env: Env): Shard {
    const found = schedulers.map((s) => s.read(env)).filter((f): f is Found => f !== undefined);
    if (found.length === 0)
        throw new UsageError(`--shard auto: no scheduler's array variables are set (looked for ${schedulers.map((s) => s.names).join("; ")}): give --shard K/N`);
    const counts = found.filter((f) => f.count !== undefined);
    const [first] = found;
    for (const other of found.slice(1)) {
        if (other.index !== first!.index || (other.count !== undefined && counts[0] !== undefined && other.count !== counts[0].count))
            throw new UsageError(`--shard auto: ${first!.scheduler} (${describe(first!)}) and ${other.scheduler} (${describe(other)}) disagree: give --shard K/N`);
    }
    const said = counts[0]?.count;
    if (auto.count !== undefined && said !== undefined && auto.count !== said)
        throw new UsageError(`--shard auto/${auto.count}: ${counts[0]!.scheduler} says the array has ${said} tasks (${counts[0]!.names})`);
    const count = auto.count ?? said;
    if (count === undefined)
        throw new UsageError(`--shard auto: ${first!.scheduler} gives no task count (${first!.names}): give --shard auto/N, N the job's completions`);
    if (first!.index < 0 || first!.index >= count)
        throw new UsageError(`--shard auto: ${first!.scheduler}'s task ${first!.index} (${first!.names}) is not one of ${count}`);
    return { index: first!.index, count };
}

function describe(found: Found): string {
    return `task ${found.index}${found.count === undefined ? "" : ` of ${found.count}`}`;
}

/**
 * `-o` with `{shard}` and `{shards}` in it, for the shard: `part-{shard}-of-{shards}.jsonl` → `part-03-of-16.jsonl`.
 * The shard is zero-padded to the width of the last one (N - 1), so that the parts list in order.
 */
export function shardName(path: string, shard: Shard | undefined): string {
    if (!/\{shards?\}/.test(path)) return path;
    if (shard === undefined) throw new UsageError(`-o ${path}: {shard} and {shards} name a shard's part; give --shard K/N or --shard auto`);
    const width = String(shard.count - 1).length;
    return path.replaceAll("{shards}", String(shard.count)).replaceAll("{shard}", String(shard.index).padStart(width, "0"));
}
