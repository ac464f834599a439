import type { OutputFormat } from "../formats.js";
import type { Encoder, EncoderOptions } from "./encoder.js";

/** The encoder of a format, loaded when a run needs it (Parquet's writer only for Parquet output). */
export async function createEncoder(format: OutputFormat, options: EncoderOptions): Promise<Encoder> {
    switch (format) {
        case "jsonl":
        case "json":
            return (await import("./json.js")).jsonEncoder(format, options);
        case "csv":
        case "tsv":
            return (await import("./delimited.js")).delimitedEncoder(format === "csv" ? "," : "\t", options);
        case "parquet":
            return (await import("./parquet.js")).parquetEncoder(options);
        case "table":
            return (await import("./table.js")).tableEncoder(options);
    }
}
