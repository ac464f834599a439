/**
 * The one table of file formats: what each is called, which names and bytes tell it, whether nemoreward reads it,
 * writes it, and can continue it row by row. Everything that asks "what format is this" asks here.
 */
export type Format = "jsonl" | "json" | "csv" | "tsv" | "parquet" | "table";
export type InputFormat = Exclude<Format, "table">;
export type OutputFormat = Format;

type Traits = {
    /** File name endings that name the format, the usual one first. */
    extensions: readonly string[];
    reads: boolean;
    writes: boolean;
    /**
     * Written row by row (Parquet: row group by row group, each followed by a footer of the groups so far), each
     * row's bytes final once written: a file cut short can be continued (`--resume`), and shards interleaved
     * (`merge`). A JSON array closes with `]`, a table is for a terminal.
     */
    resumable: boolean;
    /** Bytes for programs, not text for a terminal. */
    binary: boolean;
    /** May come gzipped (`.jsonl.gz`): told by its first bytes. */
    gzip: boolean;
    /** CSV and TSV: the field separator. */
    delimiter?: "," | "\t";
};

export const formats: Readonly<Record<Format, Traits>> = {
    jsonl: { extensions: ["jsonl", "ndjson"], reads: true, writes: true, resumable: true, binary: false, gzip: true },
    json: { extensions: ["json"], reads: true, writes: true, resumable: false, binary: false, gzip: true },
    csv: { extensions: ["csv"], reads: true, writes: true, resumable: true, binary: false, gzip: true, delimiter: "," },
    tsv: { extensions: ["tsv"], reads: true, writes: true, resumable: true, binary: false, gzip: true, delimiter: "\t" },
    parquet: { extensions: ["parquet"], reads: true, writes: true, resumable: true, binary: true, gzip: false },
    table: { extensions: ["txt"], reads: false, writes: true, resumable: false, binary: false, gzip: false },
};

export const inputFormats = (Object.keys(formats) as Format[]).filter((f) => formats[f].reads) as InputFormat[];
export const outputFormats = (Object.keys(formats) as Format[]).filter((f) => formats[f].writes);

/** The first bytes of a Parquet file, and of gzip data. */
export const parquetMagic = Buffer.from("PAR1", "latin1");
export const gzipMagic = Buffer.from([0x1f, 0x8b]);

/** The format a file name asks for: its extension (an input's under any `.gz`), or undefined. */
export function formatOfName(path: string, use: "input" | "output"): Format | undefined {
    const match = /\.([a-z]+)(\.gz)?$/i.exec(path);
    if (match === null || (match[2] !== undefined && use === "output")) return undefined;
    const extension = match[1]!.toLowerCase();
    const format = (Object.keys(formats) as Format[]).find((f) => formats[f].extensions.includes(extension));
    if (format === undefined || !(use === "input" ? formats[format].reads : formats[format].writes)) return undefined;
    if (match[2] !== undefined && !formats[format].gzip) return undefined;
    return format;
}

/** The names a user may give files of these formats, for messages: ".jsonl, .ndjson, ... or .parquet". */
export function namesOf(use: "input" | "output"): string {
    const used = (Object.keys(formats) as Format[]).filter((f) => (use === "input" ? formats[f].reads : formats[f].writes));
    const names = (list: Format[]) => list.flatMap((f) => formats[f].extensions.map((e) => `.${e}`));
    if (use === "output") {
        const all = names(used);
        return `${all.slice(0, -1).join(", ")} or ${all.at(-1)}`;
    }
    const zipped = names(used.filter((f) => formats[f].gzip)), plain = names(used.filter((f) => !formats[f].gzip));
    return `${zipped.join(", ")} (optionally .gz) or ${plain.join(", ")}`;
}
