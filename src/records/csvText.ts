/**
 * CSV and TSV as nemoreward reads them, and as it reads back what it wrote: RFC 4180 quoting for both (as pandas and
 * Python's csv module read TSV), relaxed as csv-parse's `relax_quotes` is. A field that starts with a quote is quoted,
 * and `""` inside it is a quote; a quote anywhere else in a field (`a 5" screen`) is text; a closing quote followed by
 * anything but a delimiter or a line end gives up quoting, the field keeping both its quotes. A record ends at LF
 * or CRLF outside quotes (a lone CR is text). Records are found in the bytes by input/delimited.ts.
 */

/** The fields of one record's text (without its line ending). */
export function splitFields(text: string, delimiter: string): string[] {
    const fields: string[] = [];
    let field = "", quoted = false, closed = false;
    for (let i = 0; i < text.length; i++) {
        const c = text[i]!;
        if (quoted) {
            if (c !== '"') field += c;
            else if (text[i + 1] === '"') {
                field += '"';
                i++;
            } else if (i + 1 === text.length || text[i + 1] === delimiter) {
                quoted = false;
                closed = true;
            } else {
                quoted = false;
                field = `"${field}"`; // as csv-parse: the field keeps its quotes, as written, and goes on as text
            }
        } else if (c === delimiter) {
            fields.push(field);
            field = "";
            closed = false;
        } else if (c === '"' && field === "" && !closed) {
            quoted = true;
        } else {
            field += c;
        }
    }
    fields.push(field);
    return fields;
}

/**
 * One field. CSV: quoted as RFC 4180 wants when it holds a comma, a quote or a line break. TSV: a quote inside a value
 * is text, as nemoreward's reader takes it (so a TSV scored again stays as it was); a value holding a tab or a line
 * break, which plain TSV cannot hold, or starting with a quote, which the reader would take for quoting, is quoted
 * the CSV way. Both: a value starting with U+FEFF is quoted, so that as a file's first field it is not taken for
 * the byte order mark readers drop.
 */
export function quoteField(value: string, delimiter: string): string {
    const needs = delimiter === "\t" ? /[\t\r\n]|^["\ufeff]/ : /[",\r\n]|^\ufeff/;
    return needs.test(value) ? `"${value.replace(/"/g, '""')}"` : value;
}
