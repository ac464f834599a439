import { InvalidArgumentError, Option, type Command } from "commander";
import { inputFormats, outputFormats, type InputFormat, type OutputFormat } from "../formats.js";
import { defaultFields } from "../conversation/toConversation.js";
import { parseShard, type Shard } from "./shard.js";
import type { AutoShard } from "./scheduler.js";
import type { GpuChoice, GpuLayers } from "../engine/rewardEngine.js";


/**
 * The one table of flags: each flag of every command that reads conversations, defined once (its syntax, help,
 * parser, choices and default). A command lists the flags it takes (`commandFlags`); `plan.ts` turns what the user
 * typed into the run's plan, checking every rule between them. Nothing after the plan reads a flag.
 */

/** A whole number of at least `min`, for Commander's argParser. */
export function integer(min: number) {
    return (value: string): number => {
        const n = Number(value);
        if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min)
            throw new InvalidArgumentError(`expected a whole number of at least ${min}.`);
        return n;
    };
}

/** A whole number of at least 1, or "auto". */
function countOrAuto(value: string): number | "auto" {
    return value === "auto" ? value : integer(1)(value);
}

/** A decimal number (`-1.5`, `2e-3`): not hexadecimal, binary or octal text (`0x10`), which Number() would take. */
function finiteNumber(value: string): number {
    const n = Number(value);
    if (!/^\s*[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$/.test(value) || !Number.isFinite(n)) throw new InvalidArgumentError("expected a decimal number.");
    return n;
}

function margin(value: string): number {
    const n = finiteNumber(value);
    if (n < 0) throw new InvalidArgumentError("expected a number of at least 0.");
    return n;
}

/** `--gpus`: all, or CUDA device ids (0,1,3), each once. */
function gpuList(value: string): "all" | string[] {
    if (value.trim() === "all") return "all";
    const ids = value.split(",").map((id) => id.trim());
    if (ids.some((id) => !/^\d+$/.test(id)) || new Set(ids).size !== ids.length) throw new InvalidArgumentError("expected all, or device ids such as 0,1,3, each once.");
    return ids;
}

function gpuLayers(value: string): GpuLayers {
    if (value === "max" || value === "auto") return value;
    return integer(0)(value);
}

export const defaultContextSize = 4096;

/**
 * TRL's two preference formats for `pairs`. Conversational: `prompt` is the message list before the response (system
 * message included), `chosen` and `rejected` each a list of the one assistant message. Standard: all three plain strings.
 */
export const pairFormats = ["trl-conversational", "trl-standard"] as const;
export type PairFormat = (typeof pairFormats)[number];

type Definition = { flags: string; help: string; parse?: (value: string) => unknown; choices?: readonly string[]; default?: unknown };

/** Every flag, by the name Commander gives its value. */
export const flagTable = {
    model: { flags: "-m, --model <file>", help: "reward model GGUF (default: $NEMOREWARD_MODEL, else the last `nemoreward pull`)" },
    output: { flags: "-o, --output <file>", help: "write here instead of stdout; the extension picks the format" },
    format: { flags: "--format <format>", help: "output format (default: CSV/TSV for CSV/TSV input, a table on a terminal, else JSONL)", choices: outputFormats },
    inputFormat: { flags: "--input-format <format>", help: "input format when the file name does not tell (stdin: jsonl)", choices: inputFormats },
    messagesField: { flags: "--messages-field <name>", help: "field holding the message list (default: messages, then conversations)" },
    promptField: { flags: "--prompt-field <name>", help: "field holding the prompt", default: defaultFields.prompt },
    responseField: { flags: "--response-field <name>", help: "field holding the response", default: defaultFields.response },
    systemField: { flags: "--system-field <name>", help: "field holding the system message", default: defaultFields.system },
    maxErrors: { flags: "--max-errors <n>", help: "stop after this many rows could not be processed, exit 3 (default: no limit)", parse: integer(1) },
    maxRecordMb: { flags: "--max-record-mb <n>", help: "a record (line) larger than this is an error row", parse: integer(1), default: 64 },
    chatTemplate: { flags: "--chat-template <file>", help: "Jinja chat template to use instead of the model's own" },
    contentSpecial: {
        flags: "--content-special <mode>", choices: ["special", "text"], default: "special",
        help: "special-token text inside message content: read as the special token (as Hugging Face does) or as plain text",
    },
    quiet: { flags: "-q, --quiet", help: "print only warnings (rows not scored) and errors on stderr" },
    progressSeconds: { flags: "--progress-seconds <n>", help: "seconds between progress lines when stderr is not a terminal", parse: integer(0), default: 5 },
    verbose: { flags: "--verbose", help: "print engine messages and stack traces" },
    contextSize: { flags: "--context-size <tokens>", help: "context size; longer conversations become error rows", parse: integer(1), default: defaultContextSize },
    gpu: { flags: "--gpu <backend>", help: "compute backend", choices: ["auto", "cuda", "vulkan", "cpu"], default: "auto" },
    gpuLayers: { flags: "--gpu-layers <n|max|auto>", help: "layers to offload to the GPU", parse: gpuLayers, default: "auto" },
    threads: {
        flags: "--threads <n|auto>", parse: countOrAuto,
        help: "the most CPU threads, fewer while other processes keep cores busy (re-counted every second); auto: the cores available to this process (default: $NEMOREWARD_THREADS, else auto)",
    },
    workers: {
        flags: "--workers <n>", parse: integer(1),
        help: "score with N worker processes, each with its own model copy and the cores split between them (--threads: per worker); output as one process's",
    },
    gpus: {
        flags: "--gpus <all|ids>", parse: gpuList,
        help: "one worker per GPU (all, or ids such as 0,1,3, as CUDA_VISIBLE_DEVICES numbers them), each with its own model copy; output as one process's",
    },
    fixedThreads: { flags: "--fixed-threads", help: "use exactly --threads N, even beside busy processes (may run many times slower there)" },
    field: { flags: "--field <name>", help: "name of the reward field or column", default: "reward" },
    precise: { flags: "--precise", help: "f32 KV cache: slower, closest to the exact reward" },
    flashAttention: { flags: "--flash-attention", help: "faster attention on long rows; rewards move about 2e-3 from the default (README, Reproducibility)" },
    // no default value: a --reward-token 0 given is told from none (score --server checks a given one against the server's)
    rewardToken: { flags: "--reward-token <id>", help: "vocabulary id whose logit is the reward (default: 0)", parse: integer(0) },
    parallel: { flags: "--parallel <n|auto>", help: "conversations evaluated side by side in one context (auto: 1 on CPU, 8 on GPU)", parse: countOrAuto, default: "auto" },
    reuse: { flags: "--no-reuse", help: "re-evaluate shared prompt prefixes instead of keeping them in the KV cache" },
    onOverlong: {
        flags: "--on-overlong <policy>", choices: ["error", "skip", "truncate"], default: "error",
        help: "a conversation over the context: error row, skipped row, or drop its oldest turns",
    },
    rank: { flags: "--rank", help: "add rank (1 = best) and z (reward standardised) within each run of rows sharing a prompt" },
    groupBy: { flags: "--group-by <field>", help: "with --rank or --top-k: group rows by this field instead of by prompt" },
    resume: { flags: "--resume", help: "with -o FILE: keep the rows FILE already holds (checked against the input) and append the rest" },
    shard: {
        flags: "--shard <K/N|auto|auto/N>",
        help: "score only rows i with i mod N == K (0-based); auto: K and N from the scheduler's array variables (Slurm, Kubernetes with auto/N, AWS Batch, Google Batch, Cloud Run), with --resume; `nemoreward merge` joins the parts",
        parse: parseShard,
    },
    server: {
        flags: "--server <url>",
        help: "send the rows to a running `nemoreward serve` (or an OpenAI-style NIM endpoint) instead of loading a model; key: $NEMOREWARD_API_KEY",
    },
    serverApi: { flags: "--server-api <api>", help: "the server's protocol (default: asked of the server)", choices: ["native", "nim"] },
    minReward: { flags: "--min-reward <x>", help: "keep rows whose reward is at least X", parse: finiteNumber },
    maxReward: { flags: "--max-reward <x>", help: "keep rows whose reward is at most X", parse: finiteNumber },
    topK: {
        flags: "--top-k <k>", parse: integer(1),
        help: "keep the K best of each group: a best-of-N row's responses, or a run of rows sharing a prompt (or --group-by)",
    },
    rejects: { flags: "--rejects <file>", help: "write the rows filtered out (and rows not scored) here, with \"dropped\" saying why" },
    json: { flags: "--json", help: "print one JSON object instead of a table" },
    perRow: { flags: "--per-row <file>", help: "also write each scored row (with reward_chosen, reward_rejected, margin) here" },
    benchmark: {
        flags: "--benchmark <name>", choices: ["v1", "v2", "rm-bench"],
        help: "score as RewardBench (v1), RewardBench 2 (v2) or RM-Bench (default: told from the records)",
    },
    maxTokens: { flags: "--max-tokens <n>", help: "cut each conversation to its first N tokens, as the official RewardBench 2 run does (2048)", parse: integer(1) },
    compare: { flags: "--compare <what>", choices: ["published"], help: "put the numbers published for Llama-3.1-Nemotron-70B-Reward beside yours, with the difference" },
    minMargin: { flags: "--min-margin <x>", help: "keep only pairs whose rewards differ by at least this much (a tie is never a pair)", parse: margin, default: 0 },
    pairFormat: {
        flags: "--pair-format <format>", choices: pairFormats, default: "trl-conversational",
        help: "TRL's preference format: trl-conversational (prompt: the messages before the response, system included; chosen, rejected: [assistant message]) or trl-standard (three strings)",
    },
    scored: { flags: "--scored", help: "the rows already hold their rewards (--field, as `score` wrote them): pair them without a model" },
} as const satisfies Record<string, Definition>;

export type FlagName = keyof typeof flagTable;

/** What Commander gives a command's action: each flag's value, typed. */
export type Flags = {
    model?: string; output?: string; format?: OutputFormat; inputFormat?: InputFormat;
    messagesField?: string; promptField: string; responseField: string; systemField: string;
    maxErrors?: number; maxRecordMb: number; chatTemplate?: string; contentSpecial: "special" | "text";
    quiet?: boolean; progressSeconds: number; verbose?: boolean;
    contextSize?: number; gpu?: GpuChoice; gpuLayers?: GpuLayers; threads?: number | "auto"; field?: string;
    precise?: boolean; fixedThreads?: boolean; workers?: number; gpus?: "all" | string[]; flashAttention?: boolean; rewardToken?: number; parallel?: number | "auto"; reuse?: boolean;
    onOverlong?: "error" | "skip" | "truncate";
    rank?: boolean; groupBy?: string; resume?: boolean; shard?: Shard | AutoShard;
    minReward?: number; maxReward?: number; topK?: number; rejects?: string;
    json?: boolean; perRow?: string; minMargin?: number; pairFormat?: PairFormat; scored?: boolean;
    benchmark?: "v1" | "v2" | "rm-bench"; maxTokens?: number; compare?: "published";
    server?: string; serverApi?: "native" | "nim";
};

/** The flags of reading conversations, shared by every command that does. */
const reading: FlagName[] = ["model", "output", "inputFormat", "messagesField", "promptField", "responseField", "systemField", "maxErrors",
    "maxRecordMb", "chatTemplate", "contentSpecial", "quiet", "progressSeconds", "verbose"];
/** The flags that run the model and change how rewards are computed. */
const scoring: FlagName[] = ["contextSize", "gpu", "gpus", "gpuLayers", "threads", "fixedThreads", "workers", "field", "precise", "flashAttention", "rewardToken", "parallel", "reuse", "onOverlong"];

/** Which flags each command takes, and the help a command gives a flag of its own meaning. */
export const commandFlags: Record<"score" | "render" | "eval" | "pairs" | "filter" | "serve", { names: FlagName[]; help?: Partial<Record<FlagName, string>> }> = {
    score: { names: [...reading, "format", ...scoring, "rank", "groupBy", "resume", "shard", "minReward", "maxReward", "topK", "rejects", "server", "serverApi"] },
    render: { names: [...reading, "format"] },
    eval: {
        names: [...reading, ...scoring, "resume", "shard", "json", "perRow", "benchmark", "maxTokens", "compare"],
        help: {
            output: "write the report here instead of stdout: FILE.json as with --json, else the table",
            resume: "with --per-row FILE: keep the rows FILE already holds (checked against the input), score the rest; the report counts them all",
            shard: "score only rows i with i mod N == K into --per-row FILE's part; `nemoreward merge` joins the parts, and `nemoreward eval` of the merged file reports without the model",
        },
    },
    pairs: {
        names: [...reading, ...scoring, "minMargin", "groupBy", "pairFormat", "scored"],
        help: { output: "write the pairs here instead of stdout (JSONL; .json, .parquet by the extension)", groupBy: "group rows by this field instead of by prompt" },
    },
    filter: {
        names: ["output", "format", "inputFormat", "messagesField", "promptField", "responseField", "systemField", "maxRecordMb", "quiet", "progressSeconds",
            "verbose", "field", "rank", "groupBy", "minReward", "maxReward", "topK", "rejects"],
        help: {
            field: "the column holding the rewards (best-of-N: FIELDs; chosen + rejected: FIELD_chosen, FIELD_rejected)",
            rejects: "write the rows filtered out (and rows without a reward) here, with \"dropped\" saying why",
        },
    },
    // the model and the engine; what a row's fields are (--field, --on-overlong, ...) each request says
    serve: {
        names: ["model", "chatTemplate", "quiet", "verbose", "contextSize", "gpu", "gpus", "gpuLayers", "threads", "fixedThreads", "workers", "precise", "flashAttention", "rewardToken", "parallel", "reuse"],
        help: { contextSize: "context size; longer conversations are refused as per-row errors" },
    },
};

/** Adds a command's flags, in the order of the table. */
export function addFlags(command: Command, name: keyof typeof commandFlags): Command {
    const { names, help = {} } = commandFlags[name];
    return addNamedFlags(command, names, help);
}

/** Adds these flags of the table, in its order (`check` takes a few of score's). */
export function addNamedFlags(command: Command, names: FlagName[], help: Partial<Record<FlagName, string>> = {}): Command {
    for (const flag of (Object.keys(flagTable) as FlagName[]).filter((f) => names.includes(f))) {
        const definition: Definition = flagTable[flag];
        const option = new Option(definition.flags, help[flag] ?? definition.help);
        if (definition.choices !== undefined) option.choices(definition.choices);
        if (definition.parse !== undefined) option.argParser(definition.parse);
        if (definition.default !== undefined) option.default(definition.default);
        command.addOption(option);
    }
    return command;
}
