import { createWriteStream, statSync } from "node:fs";
import { once } from "node:events";
import { UsageError } from "../errors.js";
import type { Io } from "../io.js";
import type { OutputFormat } from "../output/formats.js";
import { nullSink, ResumeSink, streamSink, type Sink } from "../output/sinks.js";
import { resumeSettings } from "./resumeSettings.js";
import type { Pipeline, RunOptions } from "./runPipeline.js";

/** Where rows go: the command's own stream, `-o FILE` (resumable when it is a file of a streamable format), or stdout. */
export function openSink(options: RunOptions, io: Io, pipeline: Pipeline, format: OutputFormat, templateSource: string | undefined): Sink {
    if (format === "parquet") refuseParquetOutput(options, io);
    const resumable = format === "jsonl" || format === "csv" || format === "tsv";
    if (options.resume) {
        if (options.outputPath === undefined) throw new UsageError("--resume needs -o FILE: it continues that file");
        if (!resumable) throw new UsageError(`--resume works with jsonl, csv and tsv output, not ${format}`);
    }
    // every -o FILE run keeps a record, so that a run killed without --resume can be resumed; not a device or a pipe
    if (pipeline.output === undefined && options.outputPath !== undefined && resumable &&
        statSync(options.outputPath, { throwIfNoEntry: false })?.isFile() !== false)
        return new ResumeSink(options.outputPath, resumeSettings(options, format, templateSource), options.resume === true);
    const stream = pipeline.output !== undefined ? pipeline.output.stream
        : options.outputPath !== undefined ? createWriteStream(options.outputPath) : io.stdout;
    if (stream === undefined) return nullSink;
    if (stream === io.stdout) return streamSink(stream);
    const sink = streamSink(stream);
    return {
        get closed() { return sink.closed; },
        row: sink.row,
        end: async (text) => {
            await sink.end(text);
            stream.end();
            await once(stream, "finish");
        },
        release: () => stream.destroyed || stream.writableFinished ? undefined : void stream.destroy(),
    };
}

/** Parquet's footer, its index of row groups, comes last: a file cut short cannot be continued, nor interleaved by merge. */
function refuseParquetOutput(options: RunOptions, io: Io): void {
    if (options.resume || options.shard !== undefined)
        throw new UsageError(`${options.resume ? "--resume" : "--shard"} cannot continue or merge Parquet output (its footer is written last): ` +
            `use -o FILE.jsonl (Parquet input keeps its values as JSON), then score or convert that`);
    if (options.outputPath === undefined && io.stdout.isTTY === true)
        throw new UsageError("Parquet is binary: give -o FILE.parquet, or redirect standard output");
}
