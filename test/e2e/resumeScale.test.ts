import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, mkdtempSync, openSync, readFileSync, statSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { demoConversations, parseJsonl, repoRoot, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-resume-scale-"));

describe("--resume is flat in memory, as scoring is", () => {
    it("resumes a 2,000,000-row output under a 64 MB heap: every recorded row checked against the input, the rest appended", { timeout: 600_000 }, async () => {
        const rows = 2_000_000;
        const input = join(tmp, "in.jsonl"), out = join(tmp, "out.jsonl");
        const line = (i: number) => `{"id":${i}}`;
        // the first rows through a real run: the record's header and the text the tool writes for such a row
        writeFileSync(input, `${line(0)}\n`);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", out])).code).toBe(3);
        const [header] = readFileSync(`${out}.resume`, "utf8").split("\n");
        const written = readFileSync(out, "utf8").trimEnd();
        expect(written.startsWith('{"id":0,"reward":null,"error":')).toBe(true);
        // 2,000,000 rows as that run would have written them: the file, and its record of each row (a hash of the
        // row's text, where its output ends, "e" for an error row)
        const inputFd = openSync(input, "w"), outFd = openSync(out, "w"), logFd = openSync(`${out}.resume`, "w");
        writeSync(logFd, `${header}\n`);
        let offset = 0, chunk = "", outChunk = "", logChunk = "";
        for (let i = 0; i < rows; i++) {
            const text = line(i);
            chunk += `${text}\n`;
            const outLine = `${written.replace('{"id":0,', `{"id":${i},`)}\n`;
            outChunk += outLine;
            offset += Buffer.byteLength(outLine);
            logChunk += `${createHash("sha1").update(text).digest("hex").slice(0, 16)} ${offset} e\n`;
            if (chunk.length > 1 << 20) {
                writeSync(inputFd, chunk);
                writeSync(outFd, outChunk);
                writeSync(logFd, logChunk);
                chunk = outChunk = logChunk = "";
            }
        }
        const demo = readFileSync(demoConversations, "utf8").trim().split("\n").slice(0, 2);
        writeSync(inputFd, `${chunk}${demo.join("\n")}\n`);
        writeSync(outFd, outChunk);
        writeSync(logFd, logChunk);
        for (const fd of [inputFd, outFd, logFd]) closeSync(fd);
        const sizeBefore = statSync(out).size;

        const run = spawnSync(process.execPath, ["--max-old-space-size=64", `${repoRoot}bin/nemoreward.js`, "score", input, "-m", tinyModel, "-o", out, "--resume", "--threads", "1"],
            { encoding: "utf8", maxBuffer: 1 << 24 });
        expect(run.stderr).toMatch(/resuming after the 2000000 rows already in/);
        expect(run.status, run.stderr.slice(-2000)).toBe(3); // the recorded error rows count
        expect(run.stderr).toMatch(/scored 2 of 2 rows/);
        const text = readFileSync(out, "utf8");
        expect(Buffer.byteLength(text.slice(0, sizeBefore))).toBe(sizeBefore);
        const added = parseJsonl(text.slice(sizeBefore));
        expect(added.map((r) => [r.id, typeof r.reward])).toEqual([[1, "number"], [2, "number"]]);
        expect(readFileSync(`${out}.resume`, "utf8").trimEnd().split("\n")).toHaveLength(rows + 3);
    });
});

describe("a resumed run reads the input it was started on", () => {
    it("a CSV whose columns changed order is other input, even when each row's text is the same", async () => {
        const first = join(tmp, "first.csv"), second = join(tmp, "second.csv"), out = join(tmp, "order.csv");
        writeFileSync(first, "prompt,response\nHi,Hi\nHo,Ho\n");
        writeFileSync(second, "response,prompt\nHi,Hi\nHo,Ho\nHey,Hey\n");
        expect((await runInProcess(["score", first, "-m", tinyModel, "-o", out])).code).toBe(0);
        const before = readFileSync(out, "utf8");
        const resumed = await runInProcess(["score", second, "-m", tinyModel, "-o", out, "--resume"]);
        expect(resumed.stderr).toMatch(/order\.csv was written from other input: row 1 \(.*second\.csv:2\) differs/);
        expect(resumed.code).toBe(2);
        expect(readFileSync(out, "utf8")).toBe(before);
    });
});
