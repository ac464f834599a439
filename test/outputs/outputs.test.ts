import { createHash } from "node:crypto";
import { existsSync, linkSync, mkdtempSync, readFileSync, readdirSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { Outputs, type OutputSpec } from "../../src/outputs/outputs.js";

const dir = () => mkdtempSync(join(tmpdir(), "nemoreward-outputs-"));
const io = { stdout: new PassThrough() };
const claim = (specs: OutputSpec[], reads: { path: string; what: string }[] = []) => Outputs.claim(specs, reads, io);
const settings = { format: "csv" };
/** Every file of a folder and its bytes. */
const snapshot = (folder: string) => Object.fromEntries(readdirSync(folder).sort().map((name) => [name, readFileSync(join(folder, name), "utf8")]));

describe("the outputs owner", () => {
    it("--resume records a row held back by the encoder only once its text is in the file", async () => {
        const path = join(dir(), "out.csv");
        const spec: OutputSpec = { flag: "-o", path, format: "csv", records: { settings, resume: true } };
        const first = await claim([spec]);
        first.open();
        await first.get("-o").row("", () => "row 1", true);
        first.release(); // killed here: the held row is not in the file, so a resumed run must do it again
        const again = await claim([spec]);
        expect(again.get("-o").recorded).toMatchObject({ rows: 0, failed: 0, end: 0 });
        again.open();
        await again.get("-o").row("", () => "row 1", true);
        await again.get("-o").row("h\n1\n2\n", () => "row 2", false);
        await again.finish(true);
        again.release();
        expect(readFileSync(path, "utf8")).toBe("h\n1\n2\n");
        const third = await claim([spec]);
        expect(third.get("-o").recorded).toMatchObject({ rows: 2, failed: 1, end: 6 });
        third.release();
    });

    it("claiming and releasing without opening touches no file; a file written beside itself takes its name only when finished", async () => {
        const folder = dir();
        const path = join(folder, "out.parquet");
        writeFileSync(path, "the old bytes");
        const before = snapshot(folder);
        const outputs = await claim([{ flag: "-o", path, format: "parquet" }]);
        outputs.release();
        expect(snapshot(folder)).toEqual(before);
        const failing = await claim([{ flag: "-o", path, format: "parquet" }]);
        failing.open();
        await failing.get("-o").write("half a file");
        failing.release(); // the run failed before finishing
        expect(snapshot(folder)).toEqual(before);
        const done = await claim([{ flag: "-o", path, format: "parquet" }]);
        done.open();
        await done.get("-o").write("new bytes");
        await done.finish(true);
        done.release();
        expect(snapshot(folder)).toEqual({ "out.parquet": "new bytes" });
    });

    it("one run at a time per file, whatever name each gives it: the same path, a symlink, a relative path", async () => {
        const folder = dir();
        const path = join(folder, "out.json");
        const link = join(folder, "link.json");
        symlinkSync(path, link);
        const first = await claim([{ flag: "-o", path, format: "json" }]);
        for (const other of [path, link, join(folder, ".", "out.json")])
            await expect(claim([{ flag: "-o", path: other, format: "jsonl" }])).rejects.toThrow(`${other} is being written by another run`);
        first.release();
        (await claim([{ flag: "-o", path: link, format: "jsonl" }])).release();
    });

    it("a file of several hard links is not written in place: it would change under its other names", async () => {
        const folder = dir();
        const path = join(folder, "out.jsonl"), alias = join(folder, "alias.jsonl");
        writeFileSync(path, "x\n");
        linkSync(path, alias);
        await expect(claim([{ flag: "-o", path: alias, format: "jsonl", records: { settings, resume: false } }]))
            .rejects.toThrow(`${alias} has 2 names (hard links): writing it in place would change it under the others too; write elsewhere`);
        expect(readFileSync(path, "utf8")).toBe("x\n");
    });

    it("refuses an output that is a file the run reads, through any name, and two outputs that are one file or one's record", async () => {
        const folder = dir();
        const input = join(folder, "in.jsonl"), alias = join(folder, "in-alias.jsonl"), link = join(folder, "in-link.jsonl");
        writeFileSync(input, "{}\n");
        linkSync(input, alias);
        symlinkSync(input, link);
        for (const path of [alias, link])
            await expect(claim([{ flag: "-o", path, format: "jsonl" }], [{ path: input, what: "an input" }])).rejects.toThrow(`${path} is also an input (${input})`);
        const out = join(folder, "out.jsonl");
        await expect(claim([{ flag: "-o", path: out, format: "jsonl" }, { flag: "--rejects", path: join(folder, ".", "out.jsonl"), format: "jsonl" }]))
            .rejects.toThrow(/^--rejects .*out\.jsonl and -o .*out\.jsonl would both write .*out\.jsonl: each output needs a file of its own$/);
        const recordLink = join(folder, "record-link.jsonl");
        symlinkSync(`${out}.resume`, recordLink);
        await expect(claim([{ flag: "-o", path: out, format: "jsonl", records: { settings, resume: false } }, { flag: "--rejects", path: recordLink, format: "jsonl" }]))
            .rejects.toThrow(/^cannot write .*record-link\.jsonl: names ending in \.resume, \.shard, \.lock, \.partial are the files nemoreward keeps/);
        expect(readdirSync(folder).sort()).toEqual(["in-alias.jsonl", "in-link.jsonl", "in.jsonl", "record-link.jsonl"]);
        expect(existsSync(`${out}.lock`)).toBe(false);
    });
});

describe("the files the owner keeps beside an output are its own", () => {
    it("a record file that is a link is replaced, never written through: .partial, .resume and .shard", async () => {
        const folder = dir();
        const precious = join(folder, "precious.txt");
        writeFileSync(precious, "keep me\n");
        const out = join(folder, "out.jsonl"), parquet = join(folder, "out.parquet");
        for (const name of [`${out}.resume`, `${out}.shard`, `${parquet}.partial`]) symlinkSync(precious, name);
        const outputs = await claim([{ flag: "-o", path: out, format: "jsonl", records: { settings, resume: false }, shard: { index: 0, count: 2 } },
            { flag: "--rejects", path: parquet, format: "parquet" }]);
        outputs.open();
        await outputs.get("-o").row("row\n", () => "row", false);
        await outputs.get("--rejects").write("bytes");
        await outputs.finish(true);
        outputs.release();
        expect(readFileSync(precious, "utf8")).toBe("keep me\n");
        expect(readFileSync(parquet, "utf8")).toBe("bytes");
        expect(JSON.parse(readFileSync(`${out}.shard`, "utf8"))).toMatchObject({ index: 0, count: 2, rows: 1, complete: true, bytes: 4,
            sha256: createHash("sha256").update("row\n").digest("hex") });
    });

    it("--resume refuses a record that is a link or has other names, leaving it as it was", async () => {
        const folder = dir();
        const out = join(folder, "out.jsonl");
        writeFileSync(out, "");
        const elsewhere = join(folder, "elsewhere.resume");
        writeFileSync(elsewhere, '{"nemoreward":2,"format":"csv"}\n');
        symlinkSync(elsewhere, `${out}.resume`);
        await expect(claim([{ flag: "-o", path: out, format: "jsonl", records: { settings, resume: true } }])).rejects.toThrow(/\.resume is a symbolic link/);
        expect(readFileSync(elsewhere, "utf8")).toBe('{"nemoreward":2,"format":"csv"}\n');
    });

    it("an output named like a record file (.resume, .shard, .lock, .partial) is refused: another run's record would be its file", async () => {
        const folder = dir();
        for (const name of ["a.jsonl.resume", "a.jsonl.shard", "a.jsonl.lock", "a.parquet.partial"])
            await expect(claim([{ flag: "-o", path: join(folder, name), format: "jsonl" }])).rejects.toThrow(/names ending in \.resume, \.shard, \.lock, \.partial are the files nemoreward keeps beside its outputs/);
        expect(readdirSync(folder)).toEqual([]);
    });

    it("an existing file is locked by its identity too: another name of it (a hard link) waits while a run writes it beside itself", async () => {
        const folder = dir();
        const path = join(folder, "x.parquet"), alias = join(folder, "y.parquet");
        writeFileSync(path, "old");
        linkSync(path, alias);
        const first = await claim([{ flag: "-o", path, format: "parquet" }]);
        await expect(claim([{ flag: "-o", path: alias, format: "parquet" }])).rejects.toThrow(`${alias} is being written by another run`);
        first.release();
        (await claim([{ flag: "-o", path: alias, format: "parquet" }])).release();
    });
});

describe("--resume continues only the very file its record describes", () => {
    /** A file of three rows written with records, as a run leaves it; returns its path. */
    async function written(folder: string, name = "out.jsonl", rows = ["a", "bb", "ccc"]): Promise<string> {
        const path = join(folder, name);
        const outputs = await claim([{ flag: "-o", path, format: "jsonl", records: { settings, resume: false } }]);
        outputs.open();
        for (const row of rows) await outputs.get("-o").row(`{"row":"${row}"}\n`, () => row, false);
        await outputs.finish(true);
        outputs.release();
        return path;
    }
    const resume = (path: string) => claim([{ flag: "-o", path, format: "jsonl", records: { settings, resume: true } }]);
    /** The record's lines with one line's fields changed. */
    const recordWith = (path: string, line: number, change: (fields: string[]) => string[]) => {
        const lines = readFileSync(`${path}.resume`, "utf8").split("\n");
        lines[line] = change(lines[line]!.split(" ")).join(" ");
        writeFileSync(`${path}.resume`, lines.join("\n"));
    };

    it("the record as written resumes: every row's end and bytes check out", async () => {
        const path = await written(dir());
        const outputs = await resume(path);
        expect(outputs.get("-o").recorded).toMatchObject({ rows: 3, failed: 0, end: statSync(path).size });
        outputs.release();
    });

    it("a row's end moved inside a row, before the row above, or past the file: refused, both files as they were", async () => {
        for (const change of [(f: string[]) => [f[0]!, String(Number(f[1]) - 5), ...f.slice(2)], (_: string[]) => [], (f: string[]) => [f[0]!, "3", ...f.slice(2)],
            (f: string[]) => [f[0]!, "100000", ...f.slice(2)], (f: string[]) => [f[0]!, f[1]!, "01234567"]]) {
            const folder = dir();
            const path = await written(folder);
            recordWith(path, 3, change);
            const before = snapshot(folder);
            await expect(resume(path)).rejects.toThrow(/out\.jsonl\.resume does not describe .*out\.jsonl at record 3 \(/);
            expect(snapshot(folder)).toEqual(before);
        }
    });

    it("a byte of the file changed, or another run's file put in its place: refused at the first row that differs", async () => {
        const folder = dir();
        const path = await written(folder);
        writeFileSync(path, readFileSync(path, "utf8").replace('"bb"', '"bB"'));
        await expect(resume(path)).rejects.toThrow(/at record 2 \(the bytes up to \d+ are not those it recorded\)/);
        const other = await written(folder, "other.jsonl", ["x", "yy", "zzz"]); // the same sizes, other bytes
        const mine = await written(folder, "mine.jsonl");
        writeFileSync(mine, readFileSync(other));
        await expect(resume(mine)).rejects.toThrow(/mine\.jsonl\.resume does not describe .*mine\.jsonl at record 1/);
    });

    it("the bytes after the last recorded row (a row cut short by a kill) are cut, once the run finishes", async () => {
        const folder = dir();
        const path = await written(folder);
        const whole = readFileSync(path, "utf8");
        writeFileSync(path, `${whole}{"row":"dd`);
        const outputs = await resume(path);
        outputs.open();
        await outputs.finish(true);
        outputs.release();
        expect(readFileSync(path, "utf8")).toBe(whole);
    });
});

