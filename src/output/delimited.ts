import type { InputRow } from "../input/inputRow.js";

/** One field, quoted as RFC 4180 wants when it holds the delimiter, a quote or a line break. */
export function quoteField(value: string, delimiter: string): string {
    if (delimiter === "\t") return value.replace(/[\t\r\n]/g, " ");
    return /[",\r\n]/.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}

function cell(value: unknown): string {
    if (value === undefined || value === null) return "";
    return typeof value === "string" ? value : JSON.stringify(value);
}

/**
 * CSV/TSV output. Rows read from a file of the same delimiter keep their original text byte for byte and gain
 * the added columns; other rows are laid out under the first row's columns.
 */
export function delimitedWriter(delimiter: string, added: readonly string[], continuing = false) {
    let columns: string[] | undefined;
    let eol = "\n";
    const join = (values: readonly unknown[]) => values.map((v) => quoteField(cell(v), delimiter)).join(delimiter);
    return {
        row(input: InputRow, fields: Record<string, unknown>): string {
            const extra = join(added.map((name) => fields[name]));
            let header = "";
            if (columns === undefined) {
                if (input.header?.delimiter === delimiter) {
                    columns = input.header.names;
                    eol = input.header.eol;
                    header = `${input.header.text}${delimiter}${join(added)}${eol}`;
                } else {
                    columns = input.header?.names ?? Object.keys(input.record ?? { line: 0 });
                    header = `${join([...columns, ...added])}${eol}`;
                }
                if (continuing) header = "";
            }
            if (input.header?.delimiter === delimiter) return `${header}${input.text}${delimiter}${extra}${eol}`;
            const values = input.record === undefined ? columns.map((c) => (c === "line" ? input.line : "")) : columns.map((c) => input.record![c]);
            return `${header}${join(values)}${delimiter}${extra}${eol}`;
        },
        end: () => "",
    };
}
