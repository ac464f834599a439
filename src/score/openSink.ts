import { createWriteStream } from "node:fs";
import { once } from "node:events";
import { UsageError } from "../errors.js";
import type { Io } from "../io.js";
import type { OutputFormat } from "../output/formats.js";
import { nullSink, ResumeSink, streamSink, type Sink } from "../output/sinks.js";
import { resumeSettings } from "./resumeSettings.js";
import type { Pipeline, RunOptions } from "./runPipeline.js";

/** Where rows go: a resumable file, the command's own stream, `-o FILE`, or stdout. */
export function openSink(options: RunOptions, io: Io, pipeline: Pipeline, format: OutputFormat, templateSource: string | undefined): Sink {
    if (options.resume) {
        if (options.outputPath === undefined) throw new UsageError("--resume needs -o FILE: it continues that file");
        if (format !== "jsonl" && format !== "csv" && format !== "tsv")
            throw new UsageError(`--resume works with jsonl, csv and tsv output, not ${format}`);
        return new ResumeSink(options.outputPath, resumeSettings(options, format, templateSource));
    }
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
    };
}
