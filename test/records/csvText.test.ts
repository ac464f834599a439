import { Readable } from "node:stream";
import { parse } from "csv-parse/sync";
import { describe, expect, it } from "vitest";
import { delimitedRecords } from "../../src/input/delimited.js";
import { quoteField, splitFields } from "../../src/records/csvText.js";

/** A pseudo-random generator, so that a failure can be replayed. */
function random(seed: number): () => number {
    return () => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
}

/** The records nemoreward finds in a text, each split into its fields. */
async function split(text: string, delimiter: "," | "\t", chunkSize: number): Promise<string[][]> {
    const bytes = Buffer.from(text);
    const chunks = Array.from({ length: Math.ceil(bytes.length / chunkSize) }, (_, i) => bytes.subarray(i * chunkSize, (i + 1) * chunkSize));
    const out: string[][] = [];
    for await (const record of delimitedRecords(Readable.from(chunks), delimiter, Infinity)) out.push(splitFields(record.body.toString(), delimiter));
    return out;
}

describe("CSV and TSV syntax", () => {
    it.each([",", "\t"] as const)("finds the records and fields csv-parse finds, with relax_quotes, in 3,000 random texts (%j)", async (delimiter) => {
        const next = random(delimiter === "," ? 11 : 13);
        const alphabet = ["a", "b", delimiter, '"', '"', "\n", "\r", "\r\n", " ", "é"];
        let compared = 0;
        for (let n = 0; n < 3000; n++) {
            const text = Array.from({ length: Math.floor(next() * 24) }, () => alphabet[Math.floor(next() * alphabet.length)]).join("");
            let expected: string[][];
            try {
                expected = parse(text, { delimiter, quote: '"', relax_quotes: true, relax_column_count: true, record_delimiter: ["\r\n", "\n"], bom: false });
            } catch {
                continue; // an unclosed quote: nemoreward makes it an error row (readers.test.ts)
            }
            // the same records (a blank line is one, of one empty field, which the reader then takes for no row)
            expect(await split(text, delimiter, 1 + Math.floor(next() * 5)), JSON.stringify(text)).toEqual(expected);
            compared++;
        }
        expect(compared).toBeGreaterThan(1000);
    });

    it("a value starting with U+FEFF is quoted: as a file's first field it is not taken for the byte order mark", async () => {
        for (const delimiter of [",", "\t"] as const) {
            const text = [["\ufeffk", "v"], ["\ufeff", "x"]].map((row) => row.map((v) => quoteField(v, delimiter)).join(delimiter)).join("\n") + "\n";
            expect(text.startsWith('"\ufeff')).toBe(true);
            expect(await split(text, delimiter, 3)).toEqual([["\ufeffk", "v"], ["\ufeff", "x"]]);
        }
    });

    it("what quoteField writes, splitFields reads back, in CSV and TSV", () => {
        const next = random(5);
        const alphabet = ["a", ",", "\t", '"', "\n", "\r", " ", "漢", "\ufeff"];
        for (let n = 0; n < 2000; n++) {
            const values = Array.from({ length: 1 + Math.floor(next() * 4) }, () =>
                Array.from({ length: Math.floor(next() * 8) }, () => alphabet[Math.floor(next() * alphabet.length)]).join(""));
            for (const delimiter of [",", "\t"]) expect(splitFields(values.map((v) => quoteField(v, delimiter)).join(delimiter), delimiter)).toEqual(values);
        }
    });
});
