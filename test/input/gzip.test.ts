import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import type { InputRow } from "../../src/records/row.js";
import { readBytes } from "../helpers.js";

const lines = (from: number, count: number) => Array.from({ length: count }, (_, i) => `{"id":${from + i},"text":"row ${from + i} ${"x".repeat(i % 50)}"}\n`).join("");

async function read(bytes: Buffer, chunk = 64 * 1024): Promise<{ rows: InputRow[]; warnings: string[] }> {
    const warnings: string[] = [];
    const rows = await readBytes(bytes, "jsonl", { chunkSize: chunk, warn: (message) => warnings.push(message) });
    return { rows, warnings };
}

const ids = (rows: InputRow[]) => rows.map((row) => row.record?.["id"]);
const upTo = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("gzip input as gzip reads it", () => {
    it.each([3, 20_000])("%i rows followed by trailing garbage: every row, then one warning", async (count) => {
        const { rows, warnings } = await read(Buffer.concat([gzipSync(lines(0, count)), Buffer.from("garbage after the stream\n")]));
        expect(ids(rows)).toEqual(upTo(count));
        expect(warnings).toEqual(["<stdin>: trailing garbage after the gzip data ignored (as gzip -t reports it)"]);
    });

    it("zero padding after the stream is ignored, as zcat does", async () => {
        for (const chunk of [7, 64 * 1024]) {
            const { rows, warnings } = await read(Buffer.concat([gzipSync(lines(0, 3000)), Buffer.alloc(70_000)]), chunk);
            expect(ids(rows)).toEqual(upTo(3000));
            expect(warnings).toEqual([]);
        }
    });

    it("reads every member of a multi-member file (cat a.gz b.gz), whatever the chunking", async () => {
        const members = Buffer.concat([gzipSync(lines(0, 1000)), gzipSync(lines(1000, 1)), gzipSync(""), gzipSync(lines(1001, 999))]);
        for (const chunk of [1, 13, 64 * 1024]) {
            const { rows, warnings } = await read(members, chunk);
            expect(ids(rows)).toEqual(upTo(2000));
            expect(warnings).toEqual([]);
        }
    });

    it("a member whose checksum does not match keeps the rows decoded and ends with an error row", async () => {
        const member = gzipSync(lines(0, 10));
        member[member.length - 8] ^= 0xff;
        const { rows } = await read(member);
        expect(ids(rows.slice(0, 10))).toEqual(upTo(10));
        expect(rows[10]).toMatchObject({ line: 11, problem: expect.stringMatching(/gzip data is corrupt/) });
    });
});
