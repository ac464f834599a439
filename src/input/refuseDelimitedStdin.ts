import { UsageError } from "../errors.js";
import type { InputRow } from "../records/row.js";

/** A header cell: a column name, quoted or not (pandas writes an empty one for its index). */
const headerCell = /^\s*"?[\p{L}\p{N}_ .:()-]{0,64}"?\s*$/u;

/**
 * Standard input is read as JSONL unless `--input-format` says otherwise. When its first line is not JSON but reads
 * as a CSV or TSV header, every row would be an error row: stop at once, with one line that says what to pass.
 */
export function refuseDelimitedStdin(first: InputRow): void {
    if (first.record !== undefined || /^\s*[[{]/.test(first.text)) return;
    const format = first.text.includes("\t") ? "tsv" : first.text.includes(",") ? "csv" : undefined;
    if (format === undefined) return;
    const cells = first.text.split(format === "tsv" ? "\t" : ",");
    if (!cells.every((cell) => headerCell.test(cell)) || cells.every((cell) => cell.trim() === "")) return;
    throw new UsageError(`standard input looks like ${format.toUpperCase()}, not JSONL (its first line is ` +
        `${JSON.stringify(first.text.slice(0, 60))}): pass --input-format ${format}`);
}
