/**
 * The one rule for blank lines, for reading and for counting rows alike: a line is blank when it holds nothing but
 * JSON whitespace (space, tab, CR). Any other line is a row, and an error row when it holds no record: a line of a
 * vertical tab, a form feed, a no-break space or a byte-order mark is data someone wrote, not nothing.
 */
export function isBlank(line: string): boolean {
    return /^[ \t\r]*$/.test(line);
}

/** The bytes of a blank line (besides the newline that ends it). */
export function isBlankByte(byte: number): boolean {
    return byte === 0x20 || byte === 0x09 || byte === 0x0d;
}

/** A UTF-8 byte-order mark: dropped at the start of a file, where editors put it, and only there. */
export const byteOrderMark = Buffer.from([0xef, 0xbb, 0xbf]);
