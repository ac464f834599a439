import { statSync } from "node:fs";
import { exitCodes, UsageError } from "../errors.js";
import type { CliIo } from "../io.js";
import { createLog, type Log } from "../log.js";
import { createEncoder } from "../encode/createEncoder.js";
import { endChunks, type EncoderOptions } from "../encode/encoder.js";
import { countRows, readRows } from "../input/sources.js";
import { inputPrint, Outputs, type OutputFile, type OutputSpec } from "../outputs/outputs.js";
import { rowHash } from "../outputs/resumeLog.js";
import { readFiles, type Plan } from "../plan/plan.js";
import { rowIdentity, where, type InputRow, type Source } from "../records/row.js";
import type { InputFormat } from "../formats.js";
import { named, type Layout } from "../records/toolFields.js";
import { loadTemplate } from "../template/loadTemplate.js";
import { BenchmarkTally, comparison, describeBenchmark, incompleteReport } from "../eval/benchmark.js";
import { evalTransform, scoredRow } from "../eval/evalTransform.js";
import { filterSummary, filterTransform } from "../transforms/filter.js";
import { groupKey } from "../transforms/groups.js";
import { pairsReport, pairsTransform } from "../transforms/pairs.js";
import { rankTransform } from "../transforms/rank.js";
import { recordedRewards, scoredRewards } from "../transforms/rewards.js";
import { recordedScorer } from "./recordedScorer.js";
import { chain, type Emitted, type Transform } from "../transforms/transform.js";
import type { RewardModel } from "../engine/workerPool.js";
import { nextUnlessAborted } from "../abortable.js";
import { refuseDelimitedStdinEarly } from "../input/refuseDelimitedStdinEarly.js";
import { Progress } from "./progress.js";
import { kindOf, taskScorer, type Scored } from "./scoreTask.js";
import { plural } from "../plural.js";

/**
 * Runs a plan: rows → task → engine → transforms → encoders → outputs. Every output is claimed (checked and locked)
 * first, the model loaded and its template read, and only then are the outputs opened: a run that fails a check
 * leaves every file as it was. Returns the exit status: 0 every row done, 3 some not, 130 interrupted, 141 the reader
 * of the output went away.
 */
export async function run(plan: Plan, given: CliIo, chatTemplatePath: string | undefined): Promise<number> {
    const log = createLog(given.stderr, plan.log);
    // --server: the server holds the model; its identity goes in the records a resumed run checks
    const remote = plan.server === undefined ? undefined : await (await import("./remoteScorer.js")).connectServer(plan.server, log);
    const outputs = await Outputs.claim(remote === undefined ? plan.outputs : withServer(plan.outputs, remote), readFiles(plan, chatTemplatePath), given);
    try {
        // CSV piped in without --input-format: refused now, not after the model has loaded
        const peek = !plan.read.formatGiven && plan.inputs.some(({ path, format }) => path === "-" && format === "jsonl");
        const io = peek ? { ...given, stdin: await refuseDelimitedStdinEarly(given.stdin, given.signal) } : given;
        if (plan.engine === undefined) {
            // the rows hold their rewards (filter, pairs --scored, eval of an earlier --per-row output): no model, the
            // run goes at the speed of reading; eval's tally reads the rewards from the records itself
            if (plan.evaluation?.scored) log.info("the input holds scored rows (an earlier --per-row output): reporting on their rewards, without the model");
            const first = await parquetFirst(plan, io, outputs, log);
            outputs.open();
            const scorer = plan.evaluation?.scored ? { score: async (row: InputRow) => scoredRow(row, plan.scoring.field), summary: () => "" } : recordedScorer(plan);
            return await stream(plan, io, log, outputs, 1, scorer, first);
        }
        const finished = await finishedShard(plan, io, log, outputs);
        if (finished !== undefined) return finished;
        const first = await parquetFirst(plan, io, outputs, log);
        if (remote !== undefined) {
            log.info(remote.description);
            const scorer = remote.scorer(plan.scoring, plan.conversation, plan.layout);
            outputs.open();
            return await stream(plan, io, log, outputs, remote.parallel, scorer, first);
        }
        const engine = await loadModel(plan, log);
        try {
            const template = loadTemplate(engine, plan.templateSource, log);
            if (plan.scoring.mode !== "render") log.info(engine.description);
            const scorer = taskScorer(plan.scoring, plan.conversation, plan.layout, engine, template);
            outputs.open();
            return await stream(plan, io, log, outputs, engine.parallel, scorer, first);
        } finally {
            await engine.dispose();
        }
    } finally {
        outputs.release();
    }
}

type Scorer = Pick<ReturnType<typeof taskScorer>, "score" | "summary">;

/** The outputs' records with the model the server holds, and the engine settings it scores with, in their settings. */
function withServer(specs: OutputSpec[], remote: { identity: string; engine: { precise: boolean; flashAttention: boolean; rewardToken: number } }): OutputSpec[] {
    const { precise, flashAttention, rewardToken } = remote.engine;
    return specs.map((spec) => spec.records === undefined ? spec : { ...spec, records: { ...spec.records, settings: { ...spec.records.settings, model: remote.identity, precise, flashAttention, rewardToken } } });
}

/**
 * A shard's task started again after its run finished (a scheduler's retry, a duplicate pod): its part complete, for
 * this shard, these settings and this input, the file as its record says. Nothing to do, and no model to load (minutes
 * for a 70B one): the exit status the run had. Undefined when there is work.
 */
async function finishedShard(plan: Plan, io: CliIo, log: Log, outputs: Outputs): Promise<number | undefined> {
    // input read twice: files only (a pipe read here would be gone for the run)
    const files = plan.inputs.every(({ path }) => path !== "-" && statSync(path, { throwIfNoEntry: false })?.isFile() === true);
    const file = plan.rows === undefined || !plan.resume || plan.shard === undefined || !files ? undefined : outputs.get(plan.rows);
    const record = await file?.finishedShard();
    if (record === undefined) return undefined;
    const print = inputPrint();
    for await (const row of readRows(plan.inputs, { stdin: io.stdin, maxRecordBytes: plan.read.maxRecordBytes, signal: io.signal, formatGiven: plan.read.formatGiven, warn: () => undefined }))
        print.row(rowIdentity(row));
    if (print.digest() !== record.input) return undefined;
    log.info(`shard ${record.index}/${record.count} is complete in ${file!.target.kind === "file" ? file!.target.shown : "its output"} (${plural(record.rows, "row")}): nothing to do`);
    return (file!.recorded?.failed ?? 0) > 0 ? exitCodes.someRowsFailed : exitCodes.ok;
}

/** The model in this process, or in worker processes (`--workers`, `--gpus`) behind the same interface. */
export async function loadModel(plan: Pick<Plan, "engine" | "workers">, log: Log): Promise<RewardModel> {
    const options = plan.engine!;
    if (plan.workers === undefined) {
        const { RewardEngine } = await import("../engine/rewardEngine.js");
        return RewardEngine.load(options, log);
    }
    const { WorkerPool, cudaDevices } = await import("../engine/workerPool.js");
    if ("count" in plan.workers) return WorkerPool.start(options, { count: plan.workers.count }, log);
    const devices = plan.workers.gpus === "all" ? await cudaDevices(log) : plan.workers.gpus;
    return WorkerPool.start(options, { count: devices.length, devices }, log);
}

/** The rows' fields of each kind of row: none for pairs, which writes records of its own (a pair per prompt). */
const rowsLayoutOf = (plan: Plan) => (row: InputRow | undefined) => (plan.transforms.pairs !== undefined ? [] : plan.layout(kindOf(row)));
/** The rejects' fields: the rows', and why each was dropped. */
// JSON rejects keep an unreadable line's text (`text`): its bytes that are not UTF-8 are escapes there
const rejectsLayoutOf = (plan: Plan) => (row: InputRow | undefined) => [...plan.layout(kindOf(row)), named("dropped"), ...(rejectsText(plan) ? [named("text")] : [])];

/** What a first reading of the input gives the Parquet outputs (parquetColumnsFirst). */
type FirstReading = { rows?: Partial<EncoderOptions>; rejects?: Partial<EncoderOptions> };

/**
 * Before the model loads: the Parquet outputs' columns from a first reading of the input files, and a resumed Parquet
 * file whose columns this run's input no longer gives (a column of another type) refused now, the files as they were.
 */
async function parquetFirst(plan: Plan, io: CliIo, outputs: Outputs, log: Log): Promise<FirstReading> {
    const rows = plan.rows === undefined ? undefined : outputs.get(plan.rows);
    const rejects = plan.rejects === undefined ? undefined : outputs.get(plan.rejects);
    const wanted = [
        ...(rows?.spec.format === "parquet" && plan.transforms.pairs === undefined ? [{ name: "rows" as const, file: rows, layoutOf: rowsLayoutOf(plan) }] : []),
        ...(rejects?.spec.format === "parquet" ? [{ name: "rejects" as const, file: rejects, layoutOf: rejectsLayoutOf(plan) }] : []),
    ];
    if (wanted.length === 0) return {};
    const found = await parquetColumnsFirst(plan, io, wanted);
    const first: FirstReading = Object.fromEntries(wanted.map(({ name }, i) => [name, found[i]!]));
    if (first.rows?.continuingParquet !== undefined)
        await createEncoder("parquet", { layoutOf: rowsLayoutOf(plan), warn: () => undefined, onError: () => undefined, sources: () => [],
            parquetColumns: plan.parquetColumns, color: log.color, width: 100, ...first.rows });
    return first;
}

async function stream(plan: Plan, io: CliIo, log: Log, outputs: Outputs, parallel: number, scorer: Scorer, first: FirstReading): Promise<number> {
    const rowsFile = plan.rows === undefined ? undefined : outputs.get(plan.rows);
    const rejectsFile = plan.rejects === undefined ? undefined : outputs.get(plan.rejects);
    const resumed = rowsFile?.recorded?.rows ?? 0;
    const total = plan.shard === undefined ? await countRows(plan.inputs) : undefined;
    const progress = new Progress(log, plan.verb, total === undefined ? undefined : total - resumed, plan.log.progressSeconds, plan.engine !== undefined);
    let failed = rowsFile?.recorded?.failed ?? 0;
    if (resumed > 0) log.info(`resuming after the ${plural(resumed, "row")} already in ${rowsFile!.target.kind === "file" ? rowsFile!.target.shown : "the output"}`);

    const sources: Source[] = [];
    let stopped: string | undefined;
    // --max-errors reached: the rows after the one that reached it are not written, however many were in flight (the
    // window's depth, a server's batches), so that the output is the same whatever scored it
    let limitReached = false;
    const countFailure = (row: InputRow, message: string) => {
        failed++;
        progress.interrupt(() => log.warn(`${where(row)}: ${message}`));
        if (plan.maxErrors !== undefined && failed >= plan.maxErrors && !limitReached) {
            limitReached = true;
            stopped ??= `stopped after ${plural(failed, "row")} could not be scored (--max-errors ${plan.maxErrors})`;
        }
    };
    let encodingFailed = false;
    const encoderFor = (file: OutputFile | undefined, layoutOf: (row: InputRow | undefined) => Layout, extra: Partial<EncoderOptions> = {}) => file === undefined ? undefined : createEncoder(file.spec.format, {
        layoutOf,
        warn: (message) => progress.interrupt(() => log.warn(message)),
        onError: (row, message) => {
            encodingFailed = true;
            countFailure(row, message);
        },
        // pairs writes records of its own: no input's columns
        sources: () => (plan.transforms.pairs !== undefined ? [] : sources),
        parquetColumns: plan.parquetColumns,
        typedInputs: plan.inputs.every(({ path, format }) => format === "parquet" && statSync(path, { throwIfNoEntry: false })?.isFile() === true),
        continuing: file.continuing,
        color: log.color,
        width: io.stdout.columns ?? 100,
        ...extra,
    });
    // pairs writes records of its own (a pair per prompt), to which the tool adds no field
    const rowsLayout = rowsLayoutOf(plan);
    // pairs' rows are its own records, not the input's: their columns come from the pairs, never from the input rows
    const rowsEncoder = await encoderFor(rowsFile, rowsLayout, plan.transforms.pairs !== undefined && rowsFile?.spec.format === "parquet" ? { typedInputs: false } : first.rows);
    // Parquet rejects are typed from every input row, as the rows' file is: the same columns, of the same types
    const rejectsEncoder = await encoderFor(rejectsFile, rejectsLayoutOf(plan), first.rejects);
    const { transform, summary, after, replay, failed: unjudged } = transformsOf(plan, log);
    // eval, resumed: the rows already written are read back, so that the report counts them
    const writtenRows = replay === undefined || resumed === 0 || rowsFile?.target.kind !== "file" ? undefined : readRows([{ path: rowsFile.target.real, format: rowsFile.spec.format as InputFormat }], {
        stdin: io.stdin, maxRecordBytes: plan.read.maxRecordBytes, warn: () => undefined, formatGiven: true,
    })[Symbol.asyncIterator]();

    /** A finished row, in input order: counted, then through the transforms, then encoded and written. */
    const emit = async (done: Scored) => {
        if (limitReached) return;
        if (done.error !== undefined) countFailure(done.out.input, done.error);
        else if (done.skipped !== undefined) progress.interrupt(() => log.info(`${where(done.out.input)}: skipped: ${done.skipped}`));
        progress.row(done.tokens, done.error !== undefined, done.skipped !== undefined);
        await write(transform.row(done.out), done.error !== undefined);
    };
    const write = async (emitted: Emitted[], failedRow = false) => {
        for (const { to, row } of emitted) {
            const file = to === "rejects" ? rejectsFile : rowsFile;
            const encoder = to === "rejects" ? rejectsEncoder : rowsEncoder;
            if (file === undefined || encoder === undefined) continue;
            encodingFailed = false;
            const chunk = encoder.row(row);
            if (to === "main") await file.row(chunk, () => rowIdentity(row.input), failedRow || encodingFailed);
            else await file.write(chunk);
        }
    };

    // A window of rows in flight: the next row renders and tokenizes while the engine evaluates, and with several
    // sequences there are rows of several prompts to keep them busy (the responses of one prompt queue for the
    // sequence that holds it). Each row is written as soon as it and the rows before it are done, in input order.
    const depth = parallel === 1 ? 2 : 8 * parallel + 1;
    const inFlight: Promise<void>[] = [];
    let written = Promise.resolve();
    const rows = readRows(plan.inputs, {
        stdin: io.stdin, maxRecordBytes: plan.read.maxRecordBytes, signal: io.signal, formatGiven: plan.read.formatGiven,
        warn: (message) => progress.interrupt(() => log.warn(message)), onSource: (source) => sources.push(source),
    })[Symbol.asyncIterator]();
    const records = resumed > 0 ? rowsFile!.recordedRows()[Symbol.asyncIterator]() : undefined;
    // a shard's run reads every row: its record says which input it was, so that merge joins shards of one input only
    const print = rowsFile?.spec.shard !== undefined ? inputPrint() : undefined;
    let index = -1, mine = -1;
    let readError: unknown;
    for (;;) {
        let next: IteratorResult<InputRow> | undefined;
        try {
            next = await nextUnlessAborted(rows, io.signal);
        } catch (error) {
            readError = error; // the rows read before it are still scored and written
            break;
        }
        if (next === undefined) {
            stopped ??= "interrupted: finished the rows in flight";
            io.stdin.destroy();
            break;
        }
        if (next.done) break;
        const row = next.value;
        index++;
        print?.row(rowIdentity(row));
        if (plan.transforms.pairs === undefined) rowsEncoder?.see?.(row);
        rejectsEncoder?.see?.(row);
        if (plan.shard !== undefined && index % plan.shard.count !== plan.shard.index) continue;
        mine++;
        if (mine < resumed) {
            const record = await records!.next();
            if (record.done || record.value.hash !== rowHash(rowIdentity(row)))
                throw new UsageError(`${shownOf(rowsFile!)} was written from other input: row ${mine + 1} (${where(row)}) differs; ` +
                    `remove ${shownOf(rowsFile!)} and ${rowsFile!.recordFile(".resume")} to start over`);
            if (writtenRows !== undefined) {
                const back = await writtenRows.next();
                if (!back.done) replay!(row, back.value);
            }
            continue;
        }
        const result = scorer.score(row);
        result.catch(() => undefined); // awaited below, in order; this only keeps Node from reporting it early
        written = written.then(async () => emit(await result));
        written.catch(() => undefined); // likewise
        inFlight.push(written);
        if (inFlight.length >= depth) await inFlight.shift();
        if (rowsFile?.closed) stopped ??= "the output was closed by its reader: stopped reading";
        if (stopped !== undefined) break;
    }
    await written;
    await records?.return?.();
    await writtenRows?.return?.();
    await write(transform.end());
    if (rowsEncoder !== undefined) for (const chunk of endChunks(rowsEncoder)) await rowsFile!.write(chunk, rowsEncoder.provisional?.() ?? false);
    if (rejectsEncoder !== undefined) for (const chunk of endChunks(rejectsEncoder)) await rejectsFile!.write(chunk);
    if (mine + 1 < resumed)
        throw new UsageError(`${shownOf(rowsFile!)} holds ${plural(resumed, "row")} but the input has only ${mine + 1}: it was written from other input`);
    if (stopped !== undefined) progress.interrupt(() => log.warn(stopped!));
    progress.finish(scorer.summary() + summary());
    const incomplete = await after(outputs) === true;
    await outputs.finish(stopped === undefined && readError === undefined && !(rowsFile?.closed ?? false), print?.digest());
    if (readError !== undefined) throw readError;
    if (io.signal?.aborted) return exitCodes.interrupted;
    if (rowsFile?.closed) return exitCodes.outputClosed;
    return failed + unjudged() > 0 || incomplete ? exitCodes.someRowsFailed : exitCodes.ok;
}

/**
 * Parquet outputs from input files: their columns from every input row, read once before the run, in one reading for
 * the rows and the rejects (JSON and CSV columns take every row's types; every run and every shard of one input, and
 * a run's rows and its rejects, have the same columns), so that their rows are written as they come. Kept with
 * records (--resume, --shard): also a resumed file's footer. Standard input and pipes, which can be read only once,
 * are not read first: the encoders hold their rows on disk instead, typed by every row all the same (`see`).
 */
async function parquetColumnsFirst(plan: Plan, io: CliIo, wanted: { file: OutputFile; layoutOf: EncoderOptions["layoutOf"] }[]): Promise<Partial<EncoderOptions>[]> {
    const files = plan.inputs.every(({ path }) => path !== "-" && statSync(path, { throwIfNoEntry: false })?.isFile() === true);
    const typed = files && plan.inputs.every(({ format }) => format === "parquet");
    const { Observed } = await import("../encode/parquet.js");
    const read = wanted.map(({ file, layoutOf }) => {
        const resumable = file.spec.records !== undefined;
        return { file, resumable, observed: !files || (typed && !resumable) ? undefined : new Observed(layoutOf) };
    });
    if (read.some((r) => r.observed !== undefined)) {
        for await (const row of readRows(plan.inputs, { stdin: io.stdin, maxRecordBytes: plan.read.maxRecordBytes, signal: io.signal, formatGiven: plan.read.formatGiven, warn: () => undefined }))
        {
            if (io.signal?.aborted) break; // the run stops at once too
            for (const { observed } of read) observed?.observe(row);
        }
    }
    const { parquetFooterAt } = await import("../input/parquet.js");
    return Promise.all(read.map(async ({ file, resumable, observed }) => {
        if (observed === undefined) return {};
        const recorded = file.recorded;
        if (!resumable || recorded === undefined || recorded.rows === 0 || file.target.kind !== "file") return { observed, resumable };
        return { observed, resumable, continuingParquet: { end: recorded.end, metadata: await parquetFooterAt(file.target.real, recorded.end) } };
    }));
}

/** Whether the rejects are JSON or JSONL, which keep an unreadable line's text (CSV, TSV and Parquet have no column for it). */
function rejectsText(plan: Plan): boolean {
    const format = plan.outputs.find((o) => o.flag === plan.rejects)?.format;
    return format === "jsonl" || format === "json";
}

function shownOf(file: OutputFile): string {
    return file.target.kind === "file" ? file.target.shown : "the output";
}

/** The plan's transforms, chained, with what they add to the summary line and do once the rows are written. */
function transformsOf(plan: Plan, log: Log): {
    transform: Transform; summary: () => string; after: (outputs: Outputs) => Promise<boolean | void>; replay?: (input: InputRow, written: InputRow) => void;
    /** Rows the transforms could not judge (no --group-by field, prompts that differ in one record): exit status 3. */
    failed: () => number;
} {
    const list: Transform[] = [];
    const failures: (() => number)[] = [];
    let summary = () => "";
    /** once the rows are written; true: the result is incomplete (eval: rows not counted in its report), exit 3 */
    let after = async (_: Outputs): Promise<boolean | void> => undefined;
    const { filter, rank, pairs } = plan.transforms;
    const field = plan.scoring.field;
    const rewards = plan.scoring.mode === "recorded" ? recordedRewards(field, (message) => log.info(message)) : scoredRewards(field);
    if (filter !== undefined) {
        const step = filterTransform(rewards, filter, groupKey(filter.groupBy), (message) => log.warn(message), rejectsText(plan));
        list.push(step);
        failures.push(() => step.counts.noGroup);
        summary = () => filterSummary(step.counts, plan.rejects === undefined ? undefined : plan.outputs.find((o) => o.flag === plan.rejects)?.path);
    }
    if (rank !== undefined) {
        const step = rankTransform(rewards, groupKey(rank.groupBy), rank.groupBy, (message) => log.warn(message));
        list.push(step);
        failures.push(step.noGroup);
        const before = summary;
        summary = () => before() + (step.noGroup() > 0 ? `; ${plural(step.noGroup(), "row")} not ranked (no --group-by field)` : "");
    }
    if (pairs !== undefined) {
        const step = pairsTransform({ field, fields: plan.conversation, minMargin: pairs.minMargin, format: pairs.format, groupBy: pairs.groupBy }, rewards, groupKey(pairs.groupBy),
            (message) => log.warn(message));
        list.push(step);
        failures.push(step.failed);
        after = async () => {
            const { warn, message } = pairsReport(step.outcomes, pairs.minMargin, step.counts);
            if (warn) log.warn(message);
            else log.info(message);
        };
    }
    let replay: ((input: InputRow, written: InputRow) => void) | undefined;
    if (plan.transforms.eval) {
        const evaluation = plan.evaluation!;
        const tally = new BenchmarkTally(evaluation.benchmark);
        const step = evalTransform(tally, { field: plan.scoring.field, scored: evaluation.scored });
        list.push(step);
        replay = step.replay;
        after = async (outputs) => {
            const report = tally.report();
            const maxTokens = evaluation.maxTokens;
            const json = { ...report, max_tokens: maxTokens ?? null, ...(evaluation.compare ? { published: comparison(report) } : {}) };
            await outputs.get(plan.report!.flag).write(plan.report!.json ? `${JSON.stringify(json)}\n` : describeBenchmark(report, { maxTokens, compare: evaluation.compare }));
            const incomplete = incompleteReport(report);
            if (incomplete !== undefined) log.warn(incomplete);
            return incomplete !== undefined;
        };
    }
    return { transform: chain(list), summary: () => summary(), after, replay, failed: () => failures.reduce((n, f) => n + f(), 0) };
}
