import { readFileSync, statSync } from "node:fs";
import { UsageError } from "../errors.js";
import { formatOfName, formats, namesOf, type InputFormat, type OutputFormat } from "../formats.js";
import { defaultContextSize, type Flags, type PairFormat } from "./flags.js";
import type { ConversationFields } from "../conversation/toConversation.js";
import type { TaskKind } from "../conversation/scoringTask.js";
import { availableCores, defaultThreads } from "../engine/availableCores.js";
import type { EngineOptions } from "../engine/rewardEngine.js";
import { findInputs, type InputSpec } from "../input/sources.js";
import { findModel, modelParts } from "../model/findModel.js";
import { readResumeSettings, type OutputSpec, type ReadFile } from "../outputs/outputs.js";
import type { ParquetColumn } from "../records/row.js";
import { collidingField, named, ownPrefix, type Layout } from "../records/toolFields.js";
import { rewardLayout } from "../conversation/scoringTask.js";
import { ChatTemplate } from "../template/chatTemplate.js";
import type { FilterPlan } from "../transforms/filter.js";
import { pairColumns } from "../transforms/pairs.js";
import { resumeSettings } from "./resumeSettings.js";
import type { Shard } from "./shard.js";
import { shardFromEnvironment, shardName } from "./scheduler.js";

/** The commands that read conversations and run the model (or its vocabulary). */
export type CommandName = "score" | "render" | "eval" | "pairs" | "filter";

/**
 * Everything a run does, decided and checked before anything runs: `plan` reads the flags once, applies every rule
 * between them (the table below), and opens nothing; `run` then follows it and refuses nothing more. Each part of the
 * run gets its own slice.
 */
export type Plan = {
    command: CommandName;
    /** What the progress line calls a finished row: scored, rendered, evaluated. */
    verb: string;
    inputs: InputSpec[];
    read: { maxRecordBytes: number; formatGiven: boolean };
    conversation: ConversationFields;
    /** `--chat-template FILE`'s text, read and checked; else the model's own template. */
    templateSource?: string;
    /** The model to load; none when the rewards are read from the rows (filter, pairs --scored, eval of scored rows). */
    engine?: EngineOptions;
    /** `--server URL`: the rows go to a running `nemoreward serve` (or a NIM endpoint) instead of a model loaded here. */
    server?: ServerPlan;
    /** `--workers N` or `--gpus`: worker processes with a model copy each (`all`: every CUDA device, found when the run starts). */
    workers?: { count: number } | { gpus: "all" | string[] };
    scoring: ScoringPlan;
    /** The fields the command adds to a row of each kind of task, in order. */
    layout: (kind: TaskKind) => Layout;
    transforms: TransformPlan;
    /** Every file the command writes (and standard output), for the outputs owner. */
    outputs: OutputSpec[];
    /** Which output gets the rows (none: eval without --per-row), and which the rows filtered out. */
    rows?: string;
    rejects?: string;
    /** eval: the report, as JSON or a table, to this output. */
    report?: { flag: string; json: boolean };
    /** eval: the benchmark (undefined: told from the first record), and --compare published */
    evaluation?: EvalPlan;
    /** Parquet output: the columns of the Parquet inputs (their types agree). */
    parquetColumns: ParquetColumn[];
    shard?: Shard;
    resume: boolean;
    maxErrors?: number;
    log: { quiet: boolean; verbose: boolean; progressSeconds: number };
};

export type ScoringPlan = {
    /**
     * What a task becomes: rewards (score, pairs), rewards of a preference pair (eval), the rendered text (render), or
     * the rewards the row already holds, read from its --field columns without a model (filter, pairs --scored).
     */
    mode: "rewards" | "eval" | "render" | "recorded";
    field: string;
    contextSize: number;
    onOverlong: "error" | "skip" | "truncate";
    contentSpecial: "special" | "text";
    /** eval --max-tokens: each conversation cut to its first N tokens */
    maxTokens?: number;
};

export type EvalPlan = {
    benchmark?: "v1" | "v2" | "rm-bench";
    compare: boolean;
    /** The input is rows an earlier run scored (`--per-row` output): no model, the rewards read from the records. */
    scored: boolean;
    /** --max-tokens the rows were scored with: this run's, or for scored rows the one their `.resume` record names ("unknown" without one) */
    maxTokens: number | undefined | "unknown";
};

export type ServerPlan = {
    url: string; api?: "native" | "nim"; apiKey?: string;
    /** The engine settings that change rewards, as given here (undefined: not given): the server's must match. */
    engine: EngineSettings;
    /** Engine flags given here that only change speed: the server's engine decides (a note, not an error). */
    speedFlags: string[];
};

/** The engine settings a reward depends on, as `serve` reports them in GET /v1/models. */
export type EngineSettings = { precise?: boolean; flashAttention?: boolean; rewardToken?: number };

export type TransformPlan = {
    rank?: { groupBy?: string };
    filter?: FilterPlan & { groupBy?: string };
    pairs?: { groupBy?: string; minMargin: number; format: PairFormat };
    eval?: true;
};

/** Facts the rules look at: the flags, and what follows from them. */
type Facts = { command: CommandName; flags: Flags; filters: boolean; format: OutputFormat; stdoutIsTTY: boolean; streamInput: boolean };

/** The rules between the engine's flags, which every command that loads a model checks (score, eval, pairs, serve). */
const engineRules: { when: (x: { flags: Flags }) => boolean; say: (x: { flags: Flags }) => string }[] = [
    {
        when: (x: { flags: Flags }) => (x.flags.workers ?? 1) > availableCores(),
        say: (x: { flags: Flags }) => `--workers ${x.flags.workers}: this process may use ${availableCores()} cores, and each worker needs one (with its own copy of the model): give at most ${availableCores()}`,
    },
    { when: (x: { flags: Flags }) => x.flags.workers !== undefined && x.flags.gpus !== undefined, say: () => "--workers and --gpus cannot be combined: --gpus starts a worker per GPU" },
    { when: (x: { flags: Flags }) => x.flags.gpus !== undefined && (x.flags.gpu === "cpu" || x.flags.gpu === "vulkan"), say: (x: { flags: Flags }) => `--gpus starts a worker per CUDA device; it cannot go with --gpu ${x.flags.gpu}` },
    {
        when: (x: { flags: Flags }) => x.flags.fixedThreads === true && (x.flags.threads ?? process.env["NEMOREWARD_THREADS"] ?? "auto") === "auto",
        say: () => "--fixed-threads needs --threads N: the number of threads to keep",
    },
];

/** Every rule between flags, in one table: when it is broken, and what the one line of the refusal says. */
const rules: { when: (x: Facts) => boolean; say: (x: Facts) => string }[] = [
    ...engineRules,
    {
        when: (x) => x.flags.minReward !== undefined && x.flags.maxReward !== undefined && x.flags.minReward > x.flags.maxReward,
        say: (x) => `--min-reward ${x.flags.minReward} is above --max-reward ${x.flags.maxReward}: no row could be kept`,
    },
    { when: (x) => x.flags.rejects !== undefined && !x.filters, say: () => "--rejects goes with --min-reward, --max-reward or --top-k" },
    { when: (x) => x.filters && x.flags.resume === true, say: () => "--min-reward, --max-reward and --top-k cannot be combined with --resume: filter the finished output instead" },
    { when: (x) => x.filters && x.flags.shard !== undefined, say: () => "--min-reward, --max-reward and --top-k cannot be combined with --shard: merge the shards, then filter" },
    { when: (x) => x.command === "score" && x.flags.groupBy !== undefined && !x.flags.rank && x.flags.topK === undefined, say: () => "--group-by goes with --rank or --top-k" },
    { when: (x) => x.flags.rank === true && x.flags.resume === true, say: () => "--rank cannot be combined with --resume: a group is written only when it is complete" },
    { when: (x) => x.flags.rank === true && x.flags.shard !== undefined, say: () => "--rank cannot be combined with --shard: shards take every Nth row, splitting groups" },
    { when: (x) => x.flags.resume === true && x.command !== "eval" && x.flags.output === undefined, say: () => "--resume needs -o FILE: it continues that file" },
    { when: (x) => x.command === "eval" && x.flags.resume === true && x.flags.perRow === undefined, say: () => "eval --resume needs --per-row FILE: it continues that file, and the report counts its rows" },
    { when: (x) => x.command === "eval" && x.flags.shard !== undefined && x.flags.perRow === undefined, say: () => "eval --shard needs --per-row FILE: `nemoreward merge` joins the parts, then `nemoreward eval` of the merged file reports" },
    { when: (x) => x.flags.maxTokens !== undefined && x.flags.maxTokens > (x.flags.contextSize ?? defaultContextSize), say: (x) => `--max-tokens ${x.flags.maxTokens} is over the ${x.flags.contextSize ?? defaultContextSize}-token context: raise --context-size` },
    { when: (x) => x.flags.server !== undefined && (x.flags.workers !== undefined || x.flags.gpus !== undefined), say: () => "--server sends the rows to a server: it cannot go with --workers or --gpus (give those to `nemoreward serve`)" },
    { when: (x) => x.flags.server !== undefined && x.flags.model !== undefined, say: () => "--server scores with the server's model: leave out -m (give it to `nemoreward serve`)" },
    { when: (x) => x.flags.server !== undefined && x.flags.chatTemplate !== undefined, say: () => "--server renders with the server's template: give --chat-template to `nemoreward serve`" },
    { when: (x) => x.flags.serverApi !== undefined && x.flags.server === undefined, say: () => "--server-api goes with --server URL" },
    {
        when: (x) => x.format === "parquet" && x.streamInput && x.flags.output !== undefined && (x.flags.resume === true || x.flags.shard !== undefined),
        say: (x) => `${x.flags.resume ? "--resume" : "--shard"} with Parquet output reads its input twice (every row's types first, so that every run ` +
            "and shard writes the same columns): give input files, not standard input or a pipe",
    },
    { when: (x) => x.flags.resume === true && !formats[x.format].resumable, say: (x) => `--resume works with jsonl, csv, tsv and parquet output, not ${x.format}` },
    { when: (x) => x.flags.shard !== undefined && !formats[x.format].resumable, say: (x) => `--shard writes parts that \`nemoreward merge\` joins row by row: write jsonl, csv, tsv or parquet, not ${x.format}` },
    { when: (x) => x.format === "parquet" && x.flags.output === undefined && x.stdoutIsTTY, say: () => "Parquet is binary: give -o FILE.parquet, or redirect standard output" },
    { when: (x) => collidingField(x.flags.field ?? "reward") !== undefined, say: (x) => `--field ${x.flags.field}: the reward field would be named like nemoreward's own "${collidingField(x.flags.field!)}"; choose another name` },
    { when: (x) => x.flags.field === "__proto__", say: () => "--field __proto__: JavaScript objects cannot hold a field of that name as data; choose another name" },
    { when: (x) => (x.flags.field ?? "reward").startsWith(ownPrefix), say: (x) => `--field ${x.flags.field}: names beginning with ${ownPrefix} are nemoreward's own; choose another` },
    {
        when: (x) => x.command === "eval" && x.flags.output !== undefined && ["csv", "tsv", "parquet"].includes(formatOfName(x.flags.output, "output") ?? ""),
        say: (x) => `eval writes a report, not ${formatOfName(x.flags.output!, "output")}: name -o FILE .json (JSON) or .txt (the table); --per-row FILE for the scored rows`,
    },
    {
        when: (x) => x.command === "pairs" && !["jsonl", "json", "parquet"].includes(x.format),
        say: (x) => `pairs writes JSONL, JSON or Parquet, not ${x.format}: name -o FILE.jsonl or FILE.parquet`,
    },
    {
        when: (x) => x.command === "filter" && !x.filters && x.flags.rank !== true,
        say: () => "filter needs --min-reward, --max-reward, --top-k or --rank: what to keep",
    },
    { when: (x) => x.command === "filter" && x.flags.groupBy !== undefined && !x.flags.rank && x.flags.topK === undefined, say: () => "--group-by goes with --rank or --top-k" },
    {
        when: (x) => x.flags.scored === true && x.flags.model !== undefined,
        say: () => "--scored pairs the rewards the rows already hold (--field): it loads no model; leave out -m, or leave out --scored to score again",
    },
];

/** The run's plan for one of the commands that read conversations, from the flags and inputs given. */
export async function plan(command: CommandName, inputs: string[], given: Flags,
    context: { stdinIsTTY: boolean; stdoutIsTTY: boolean; env?: Readonly<Record<string, string | undefined>> }): Promise<Plan> {
    // the shard (`auto`: from the scheduler's variables) and the output named for it (`part-{shard}-of-{shards}.jsonl`)
    const shard = given.shard !== undefined && "auto" in given.shard ? shardFromEnvironment(given.shard, context.env ?? {}) : given.shard;
    // eval's rows go to --per-row, so that is the part a shard writes
    const rowsPath = command === "eval" ? "perRow" : "output";
    const flags: Flags & { shard?: Shard } = {
        ...given, shard,
        ...(given[rowsPath] !== undefined ? { [rowsPath]: shardName(given[rowsPath], shard) } : {}),
        // a scheduler's task started again (requeued, a replacement pod) continues its part
        ...(given.shard !== undefined && "auto" in given.shard && given[rowsPath] !== undefined ? { resume: true } : {}),
    };
    if (inputs.length === 0) {
        if (context.stdinIsTTY) throw new UsageError("no input: name a file, or pipe one to standard input ('-')");
        inputs = ["-"];
    }
    const sources = findInputs(inputs, flags.inputFormat);
    const filters = flags.minReward !== undefined || flags.maxReward !== undefined || flags.topK !== undefined;
    const facts: Facts = { command, flags, filters, format: rowsFormat(command, sources[0]!.format, flags, context.stdoutIsTTY), stdoutIsTTY: context.stdoutIsTTY,
        streamInput: sources.some(({ path }) => path === "-" || statSync(path, { throwIfNoEntry: false })?.isFile() !== true) };
    for (const rule of rules) if (rule.when(facts)) throw new UsageError(rule.say(facts));

    // eval of rows an earlier run scored (its --per-row output, merged shards) needs no model; with -m they are scored again by that one
    const scored = command === "eval" && flags.model === undefined && await scoredInput(sources, flags.field ?? "reward");
    if (scored && (flags.resume === true || flags.shard !== undefined || flags.perRow !== undefined))
        throw new UsageError(`${sources[0]!.path} holds rows already scored (${flags.field ?? "reward"}_chosen, ${flags.field ?? "reward"}_rejected): eval reports on them without the model, so --per-row, --resume and --shard have nothing to do (give -m MODEL to score them again)`);
    const scoredCut = scored ? cutOf(sources) : undefined;
    if (scored && flags.maxTokens !== undefined)
        throw new UsageError(`${sources[0]!.path} holds rows already scored: their cut is the one they were scored with (${describeCut(scoredCut)}), which the report gives; --max-tokens changes nothing without -m MODEL to score them again`);
    // filter, pairs --scored and eval of scored rows read the rewards the rows hold: no model
    const noModel = command === "filter" || flags.scored === true || scored;
    // a server holds the model: nothing to find here (its identity, for --resume, comes from the server when the run starts)
    const modelPath = noModel ? undefined : flags.server !== undefined ? "" : findModel(flags.model);
    const templateSource = readTemplate(flags.chatTemplate);
    const field = flags.field ?? "reward";
    const render = command === "render";
    const scoring: ScoringPlan = {
        mode: render ? "render" : command === "eval" ? "eval" : noModel ? "recorded" : "rewards",
        field,
        contextSize: flags.contextSize ?? defaultContextSize,
        onOverlong: flags.onOverlong ?? "error",
        contentSpecial: flags.contentSpecial,
        ...(flags.maxTokens !== undefined ? { maxTokens: flags.maxTokens } : {}),
    };
    const engine = modelPath === undefined ? undefined : engineOptions(flags, modelPath, render, scoring.contextSize);
    const conversation: ConversationFields = { messages: flags.messagesField, prompt: flags.promptField, response: flags.responseField, system: flags.systemField };
    const maxRecordBytes = flags.maxRecordMb * 1024 * 1024;
    const transforms: TransformPlan = {
        ...(flags.rank ? { rank: { groupBy: flags.groupBy } } : {}),
        ...(filters ? { filter: { minReward: flags.minReward, maxReward: flags.maxReward, topK: flags.topK, groupBy: flags.groupBy } } : {}),
        ...(command === "pairs" ? { pairs: { groupBy: flags.groupBy, minMargin: flags.minMargin ?? 0, format: flags.pairFormat ?? "trl-conversational" } } : {}),
        ...(command === "eval" ? { eval: true as const } : {}),
    };
    const layout = layoutOf(scoring, flags.rank === true, flags.topK !== undefined);

    // the outputs: the rows (score, render, pairs: -o or stdout; eval: --per-row), the rows filtered out, eval's report
    const outputs: OutputSpec[] = [];
    let rows: string | undefined, report: Plan["report"];
    // Parquet output keeps records only when asked (--resume, --shard): it then reads its input twice (types first)
    const keepsRecords = formats[facts.format].resumable && (facts.format !== "parquet" || flags.resume === true || flags.shard !== undefined);
    const resumable = engine !== undefined && (command === "score" || render) && !flags.rank && !filters && flags.output !== undefined && keepsRecords;
    const rowSettings = engine === undefined ? undefined : { rows: command, modelPath: engine.modelPath, field, rewardToken: engine.rewardToken, precise: engine.precise,
        flashAttention: engine.flashAttention ?? false, contextSize: scoring.contextSize, maxRecordBytes, onOverlong: scoring.onOverlong,
        contentSpecial: scoring.contentSpecial, fields: conversation, shard: flags.shard,
        maxTokens: scoring.maxTokens };
    if (command === "eval") {
        if (flags.perRow !== undefined) outputs.push({
            flag: rows = "--per-row", path: flags.perRow, format: facts.format,
            ...(keepsRecords ? { records: { settings: resumeSettings(rowSettings!, facts.format, templateSource), resume: flags.resume === true } } : {}),
            ...(flags.shard !== undefined ? { shard: flags.shard } : {}),
        });
        const named = flags.output === undefined ? undefined : formatOfName(flags.output, "output");
        report = { flag: "-o", json: flags.json === true || named === "json" || named === "jsonl" };
        outputs.push({ flag: "-o", path: flags.output, format: report.json ? "json" : "table" });
    } else {
        outputs.push({
            flag: rows = "-o", path: flags.output, format: facts.format,
            ...(resumable ? { records: { settings: resumeSettings(rowSettings!, facts.format, templateSource), resume: flags.resume === true } } : {}),
            ...(flags.shard !== undefined && flags.output !== undefined ? { shard: flags.shard } : {}),
        });
    }
    if (flags.rejects !== undefined) outputs.push({ flag: "--rejects", path: flags.rejects, format: formatOfName(flags.rejects, "output") ?? facts.format });

    // pairs writes records of its own, not the input's columns: its message lists typed as datasets store messages
    const parquetColumns = command === "pairs" ? (facts.format === "parquet" ? pairColumns(transforms.pairs!.format, field) : [])
        : outputs.some((o) => o.format === "parquet") ? await sharedParquetColumns(sources.filter((s) => s.format === "parquet").map((s) => s.path)) : [];
    return {
        command,
        verb: render ? "rendered" : command === "eval" ? "evaluated" : noModel ? "read" : "scored",
        inputs: sources,
        read: { maxRecordBytes, formatGiven: flags.inputFormat !== undefined },
        conversation,
        templateSource,
        ...(engine === undefined ? {} : { engine }),
        scoring,
        layout,
        transforms,
        outputs,
        ...(flags.server !== undefined ? { server: serverPlan(flags, (context.env ?? {})["NEMOREWARD_API_KEY"]) } : {}),
        ...workersOf(flags),
        rows,
        rejects: flags.rejects === undefined ? undefined : "--rejects",
        report,
        ...(command === "eval" ? { evaluation: { benchmark: flags.benchmark, compare: flags.compare === "published", scored,
            maxTokens: scored ? scoredCut : flags.maxTokens } } : {}),
        parquetColumns,
        shard: flags.shard,
        resume: flags.resume === true,
        maxErrors: flags.maxErrors,
        log: { quiet: flags.quiet === true, verbose: flags.verbose === true, progressSeconds: flags.progressSeconds },
    };
}

/**
 * Whether eval's input is rows an earlier run scored: the first record of the first input (a file, read here and
 * again by the run) holds the rewards `--per-row` writes.
 */
async function scoredInput(sources: InputSpec[], field: string): Promise<boolean> {
    const first = sources[0]!;
    if (first.path === "-" || !statSync(first.path, { throwIfNoEntry: false })?.isFile()) return false;
    const { readRows } = await import("../input/sources.js");
    const rows = readRows([first], { stdin: process.stdin, maxRecordBytes: 64 * 1024 * 1024, warn: () => undefined, formatGiven: true });
    for await (const row of rows) {
        const record = row.record ?? {};
        return (`${field}_chosen` in record && `${field}_rejected` in record) || (`${field}_1` in record && `${field}_2` in record);
    }
    return false;
}

/** How rows were cut, in words: --max-tokens N, whole, or not known. */
function describeCut(maxTokens: number | undefined | "unknown"): string {
    return maxTokens === undefined ? "whole, no --max-tokens" : maxTokens === "unknown" ? "not known: no FILE.resume record beside them" : `--max-tokens ${maxTokens}`;
}

/**
 * The --max-tokens that rows an earlier run scored were cut with, from each input's FILE.resume record: "unknown" when
 * one has none; inputs cut differently are refused, since one report cannot say how its rows were scored.
 */
function cutOf(sources: InputSpec[]): number | undefined | "unknown" {
    const cuts = sources.map(({ path }) => (path === "-" ? "unknown" : scoredWith(path)));
    if (cuts.includes("unknown")) return "unknown";
    const other = cuts.findIndex((cut) => cut !== cuts[0]);
    if (other >= 0)
        throw new UsageError(`the inputs' rows were cut differently (${sources[0]!.path}: ${describeCut(cuts[0])}; ${sources[other]!.path}: ${describeCut(cuts[other])}): report on each apart`);
    return cuts[0];
}

/** The --max-tokens of an earlier run's --per-row FILE, from the settings its FILE.resume record starts with. */
function scoredWith(path: string): number | undefined | "unknown" {
    const header = readResumeSettings(path);
    return header === undefined ? "unknown" : typeof header["maxTokens"] === "number" ? header["maxTokens"] : undefined;
}

/** `--server URL`: the engine flags given here, to be checked against the server's when the run connects. */
function serverPlan(flags: Flags, apiKey: string | undefined): ServerPlan {
    const engine: EngineSettings = {
        ...(flags.precise === true ? { precise: true } : {}),
        ...(flags.flashAttention === true ? { flashAttention: true } : {}),
        ...(flags.rewardToken !== undefined ? { rewardToken: flags.rewardToken } : {}),
    };
    const speed: [boolean, string][] = [[flags.gpu !== undefined && flags.gpu !== "auto", "--gpu"], [flags.gpuLayers !== undefined && flags.gpuLayers !== "auto", "--gpu-layers"],
        [flags.threads !== undefined, "--threads"], [flags.fixedThreads === true, "--fixed-threads"], [flags.parallel !== undefined && flags.parallel !== "auto", "--parallel"],
        [flags.reuse === false, "--no-reuse"]];
    return { url: flags.server!, api: flags.serverApi, ...(apiKey !== undefined ? { apiKey } : {}), engine, speedFlags: speed.filter(([given]) => given).map(([, name]) => name) };
}

/**
 * The model's engine and its worker processes for a command that checks no other flag (serve): the engine rules of the
 * one table checked first, as `plan` checks them.
 */
export function engineSetup(flags: Flags, modelPath: string, contextSize: number): Pick<Plan, "workers"> & { engine: EngineOptions } {
    for (const rule of engineRules) if (rule.when({ flags })) throw new UsageError(rule.say({ flags }));
    return { engine: engineOptions(flags, modelPath, false, contextSize), ...workersOf(flags) };
}

/** `--gpus`: a worker per GPU; `--workers N` (above 1): N worker processes; else the model in this process. */
function workersOf(flags: Flags): Pick<Plan, "workers"> {
    return flags.gpus !== undefined ? { workers: { gpus: flags.gpus } } : flags.workers !== undefined && flags.workers > 1 ? { workers: { count: flags.workers } } : {};
}

/** The engine's options from the flags (`render` loads only the vocabulary, which needs no GPU backend). */
export function engineOptions(flags: Pick<Flags, "gpu" | "gpuLayers" | "threads" | "fixedThreads" | "parallel" | "precise" | "flashAttention" | "rewardToken" | "reuse" | "verbose">,
    modelPath: string, render: boolean, contextSize: number): EngineOptions {
    return {
        modelPath,
        // render has no engine options: it loads only the vocabulary, which needs no GPU backend
        gpu: render ? "cpu" : flags.gpu ?? "auto",
        gpuLayers: flags.gpuLayers ?? "auto",
        threads: flags.threads ?? defaultThreads(),
        fixedThreads: flags.fixedThreads ?? false,
        contextSize,
        parallel: flags.parallel ?? "auto",
        precise: flags.precise ?? false,
        flashAttention: flags.flashAttention ?? false,
        rewardToken: flags.rewardToken ?? 0,
        reuse: flags.reuse ?? true,
        vocabOnly: render,
        verbose: flags.verbose ?? false,
    };
}

/** The files a run reads, which no output may be. */
export function readFiles(plan: Plan, chatTemplate: string | undefined): ReadFile[] {
    return [
        ...plan.inputs.map(({ path }) => ({ path, what: "an input" })),
        ...(plan.engine === undefined || plan.server !== undefined ? [] : modelParts(plan.engine.modelPath).map((path) => ({ path, what: "the model" }))),
        ...(chatTemplate === undefined ? [] : [{ path: chatTemplate, what: "the chat template" }]),
    ];
}

/**
 * The format of the rows: `--format`, else the output file's extension, else a table on a terminal, else like the
 * input (CSV/TSV for CSV/TSV input, else JSONL). pairs and eval's rows (--per-row): JSONL unless the file is named otherwise.
 */
function rowsFormat(command: CommandName, input: InputFormat, flags: Flags, stdoutIsTTY: boolean): OutputFormat {
    if (command === "pairs") return flags.output === undefined ? "jsonl" : formatOfName(flags.output, "output") ?? "jsonl";
    if (command === "eval") return flags.perRow === undefined ? "jsonl" : formatOfName(flags.perRow, "output") ?? "jsonl";
    if (flags.format !== undefined) return flags.format;
    if (flags.output !== undefined) {
        const format = formatOfName(flags.output, "output");
        if (format === undefined) throw new UsageError(`cannot tell the format of ${flags.output}: name it ${namesOf("output")}, or give --format`);
        return format;
    }
    if (stdoutIsTTY) return "table";
    return input === "csv" || input === "tsv" ? input : "jsonl";
}

/** The fields a command adds to a row of each kind: rewards (or the rendered text), rank, markers, then `error`. */
export function layoutOf(scoring: Pick<ScoringPlan, "mode" | "field" | "onOverlong">, rank: boolean, topK = false): (kind: TaskKind) => Layout {
    const marker = scoring.onOverlong === "skip" ? [named("skipped")] : scoring.onOverlong === "truncate" ? [named("truncated")] : [];
    // asked for every row: one layout per kind, made once
    const made = new Map<TaskKind, Layout>();
    return (kind) => made.get(kind) ?? made.set(kind, make(kind)).get(kind)!;
    function make(kind: TaskKind): Layout {
        // --top-k cuts a best-of-N row's responses: the kept ones' indexes in the row as it came
        const cut = topK && kind === "bestOfN" ? [named("response_indexes", true)] : [];
        if (scoring.mode === "render") return [named("rendered", kind !== "single"), named("n_tokens", kind !== "single"), named("error")];
        // the rows keep their own fields, the reward among them: only `error` (where a value cannot be written), and --rank's
        if (scoring.mode === "recorded") return [...cut, named("error"), ...(rank && kind === "single" ? [named("rank"), named("z")] : [])];
        return [...rewardLayout(kind, scoring.field), ...(rank && kind === "single" ? [named("rank"), named("z")] : []), ...marker,
            ...cut, named("special_tokens_in_content"), named("error")];
    }
}

/** `--chat-template FILE`'s text, checked as a template before anything runs: it must parse and render a plain conversation. */
export function readTemplate(path: string | undefined): string | undefined {
    if (path === undefined) return undefined;
    let source: string;
    try {
        source = readFileSync(path, "utf8");
    } catch (error) {
        throw new UsageError(`cannot read chat template ${path}: ${(error as Error).message}`);
    }
    try {
        new ChatTemplate(source, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" }).render([{ role: "user", content: "Hello" }, { role: "assistant", content: "Hi" }]);
    } catch (error) {
        throw new UsageError(`chat template ${path}: ${(error as Error).message}`);
    }
    return source;
}

/**
 * The columns of the Parquet inputs, by name in order of first appearance, for Parquet output. A column two files
 * type differently cannot be one output column: refused, naming both (a file whose footer cannot be read is left
 * to the reader, which reports it as an error row).
 */
async function sharedParquetColumns(paths: string[]): Promise<ParquetColumn[]> {
    const { parquetFooter, columnsOf } = await import("../input/parquet.js");
    const columns = new Map<string, { column: ParquetColumn; file: string }>();
    for (const path of paths) {
        let found: ParquetColumn[];
        try {
            found = columnsOf(await parquetFooter(path));
        } catch {
            continue;
        }
        for (const column of found) {
            const seen = columns.get(column.name);
            if (seen === undefined) columns.set(column.name, { column, file: path });
            else if (typeKey(seen.column) !== typeKey(column))
                throw new UsageError(`${seen.file} and ${path} both have a column ${column.name}, of different types: ` +
                    "Parquet output needs one type per column; score them apart, or write JSONL");
        }
    }
    return [...columns.values()].map(({ column }) => column);
}

/** A column's type, whatever its top-level nullability. */
function typeKey({ elements: [top, ...rest] }: ParquetColumn): string {
    return JSON.stringify([{ ...top, repetition_type: top!.repetition_type === "REPEATED" ? "REPEATED" : undefined, field_id: undefined }, ...rest.map((e) => ({ ...e, field_id: undefined }))]);
}
