import { spawn, spawnSync } from "node:child_process";
import { hash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, statSync, symlinkSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import { describe, expect, it } from "vitest";
import { tinySpec, writeModel } from "../../fixtures/makeModel.js";
import { dataset, demoConversations, newDir, parseJsonl, repoRoot, runBuiltCli, runInProcess, snapshot, tinyModel, uninterruptedOutput } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-resume-"));
const demoLines = readFileSync(demoConversations, "utf8").split(/(?<=\n)/);
const input = join(tmp, "input.jsonl");
writeFileSync(input, dataset(600));
const expectedOutput = uninterruptedOutput(input);

/** Starts the CLI and SIGKILLs it once `file` holds at least `bytes` bytes. */
function killWhenWritten(args: string[], file: string, bytes: number): Promise<void> {
    return new Promise((resolve, reject) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { stdio: "ignore" });
        const timer = setInterval(() => {
            if (existsSync(file) && statSync(file).size >= bytes) child.kill("SIGKILL");
        }, 5);
        child.on("exit", (code, signal) => {
            clearInterval(timer);
            if (signal === "SIGKILL") resolve();
            else reject(new Error(`the run ended by itself (${code}) before it could be killed`));
        });
    });
}

describe("resume", () => {
    it("a run SIGKILLed mid-way and resumed gives byte for byte the output of an uninterrupted run", async () => {
        const out = join(tmp, "resumed.jsonl");
        const args = ["score", input, "-m", tinyModel, "-q", "-o", out, "--resume"];
        await killWhenWritten(args, out, 20_000);
        const partial = readFileSync(out, "utf8");
        expect(partial.length).toBeLessThan((await expectedOutput()).length);
        await killWhenWritten(args, out, partial.length + 20_000);
        const resumed = await runBuiltCli(args);
        expect(resumed.code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(await expectedOutput());
    });

    it("refuses to resume a file written from other input", async () => {
        const out = join(tmp, "other.jsonl");
        expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume"])).code).toBe(0);
        const { code, stderr } = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(code).toBe(2);
        expect(stderr).toMatch(/written from other input: row 1/);
        expect(readFileSync(out, "utf8").trim().split("\n")).toHaveLength(5);
    });

    it("refuses to finish a file with another model or other settings, naming what changed", async () => {
        const out = join(tmp, "settings.jsonl");
        expect((await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume"])).code).toBe(0);
        const before = readFileSync(out);
        // another checkpoint with the same name and size: only its weights differ
        mkdirSync(join(tmp, "other"), { recursive: true });
        const other = join(tmp, "other", "tiny-reward.gguf");
        writeModel(other, { ...tinySpec, seed: tinySpec.seed + 1 });
        expect(statSync(other).size).toBe(statSync(tinyModel).size);
        const model = await runInProcess(["score", demoConversations, "-m", other, "-o", out, "--resume"]);
        expect(model.code).toBe(2);
        expect(model.stderr).toMatch(/written with other settings \(model "tiny-reward.gguf \(\d+ bytes, [0-9a-f]{16}\)" → "tiny-reward.gguf/);
        const field = await runInProcess(["score", demoConversations, "-m", tinyModel, "-o", out, "--resume", "--field", "r2", "--precise"]);
        expect(field.stderr).toMatch(/field "reward" → "r2", precise false → true/);
        expect(readFileSync(out)).toEqual(before);
        // the same settings again, the model reached through a symlink: nothing left to do, the file unchanged
        const link = join(tmp, "current.gguf");
        symlinkSync(tinyModel, link);
        expect((await runInProcess(["score", demoConversations, "-m", link, "-o", out, "--resume"])).code).toBe(0);
        expect(readFileSync(out)).toEqual(before);
    });

    it("CSV output from JSONL: a resumed run keeps the columns of the file, not those of its next row", async () => {
        const rows = [{ id: 1, prompt: "Hi", response: "Hello" }, { id: 2, prompt: "Hi", response: "Yo" },
            { response: "Hey", prompt: "Hi", id: 3 }, { id: 4, prompt: "Hi", response: "Howdy" }];
        const part = join(tmp, "part.jsonl"), whole = join(tmp, "whole.jsonl");
        writeFileSync(part, rows.slice(0, 2).map((r) => JSON.stringify(r)).join("\n") + "\n");
        writeFileSync(whole, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
        const resumed = join(tmp, "resumed.csv"), straight = join(tmp, "straight.csv");
        expect((await runInProcess(["score", part, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        expect((await runInProcess(["score", whole, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        expect((await runInProcess(["score", whole, "-m", tinyModel, "-o", straight])).code).toBe(0);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(straight, "utf8"));
        expect(readFileSync(resumed, "utf8").split("\n")[3]).toMatch(/^3,Hi,Hey,-?\d/);
    });

    it("a scored CSV scored again and resumed: the same bytes as one run, and no warning", async () => {
        const scored = join(tmp, "scored-once.csv");
        expect((await runInProcess(["score", `${repoRoot}fixtures/formats/helpsteer2.csv`, "-m", tinyModel, "-o", scored])).code).toBe(0);
        const text = readFileSync(scored, "utf8");
        const firstRows = join(tmp, "scored-part.csv");
        writeFileSync(firstRows, text.slice(0, text.indexOf("\n", text.indexOf("\n") + 1) + 1)); // the header and one row
        const resumed = join(tmp, "rescored.csv"), straight = join(tmp, "rescored-straight.csv");
        expect((await runInProcess(["score", firstRows, "-m", tinyModel, "-o", resumed, "--resume"])).code).toBe(0);
        const rest = await runInProcess(["score", scored, "-m", tinyModel, "-o", resumed, "--resume"]);
        expect(rest.code).toBe(0);
        expect(rest.stderr).not.toMatch(/no column for/);
        expect((await runInProcess(["score", scored, "-m", tinyModel, "-o", straight])).code).toBe(0);
        expect(readFileSync(resumed, "utf8")).toBe(readFileSync(straight, "utf8"));
    });

    it("needs -o FILE and a streamable format", async () => {
        expect((await runInProcess(["score", input, "-m", tinyModel, "--resume"])).stderr).toMatch(/--resume needs -o FILE/);
        expect((await runInProcess(["score", input, "-m", tinyModel, "--resume", "-o", join(tmp, "x.json")])).code).toBe(2);
    });
});

describe("-o FILE: resumable, one run at a time", () => {
    const input = join(tmp, "long.jsonl");
    writeFileSync(input, Array.from({ length: 500 }, (_, i) =>
        JSON.stringify({ id: i, prompt: `Question ${i % 7}: what is ${i} squared?`, response: `It is ${i * i}, I think.`.repeat(1 + (i % 3)) })).join("\n") + "\n");
    let expected: string | undefined;
    const uninterrupted = async () => (expected ??= (await runBuiltCli(["score", input, "-m", tinyModel, "-q"])).stdout);
    const start = (args: string[]) => {
        const child = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, ...args], { stdio: ["ignore", "ignore", "pipe"] });
        let stderr = "";
        child.stderr.on("data", (c) => (stderr += c));
        const exit = new Promise<{ code: number | null; signal: string | null; stderr: string }>((resolve) =>
            child.on("exit", (code, signal) => resolve({ code, signal, stderr })));
        return { child, exit };
    };
    /** Resolves once `check` holds, looking every few milliseconds. */
    const until = (check: () => boolean) => new Promise<void>((resolve) => {
        const timer = setInterval(() => {
            if (!check()) return;
            clearInterval(timer);
            resolve();
        }, 5);
    });

    it("a plain -o run killed with SIGKILL resumes with --resume to the bytes of an uninterrupted run", async () => {
        const out = join(tmp, "killed.jsonl");
        const run = start(["score", input, "-m", tinyModel, "-q", "-o", out]);
        await until(() => existsSync(out) && statSync(out).size >= 20_000);
        run.child.kill("SIGKILL");
        expect((await run.exit).signal).toBe("SIGKILL");
        expect(statSync(out).size).toBeLessThan((await uninterrupted()).length);
        // the killed run's lock is left behind; its pid is gone, so it is taken over
        expect(existsSync(`${out}.lock`)).toBe(true);
        const resumed = await runBuiltCli(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(resumed.stderr).toMatch(/resuming after the \d+ rows? already in/);
        expect(resumed.code).toBe(0);
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
        expect(existsSync(`${out}.lock`)).toBe(false);
        // a complete file resumed: checked against the input, nothing added
        const again = await runBuiltCli(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
        expect(again.code).toBe(0);
        expect(again.stderr).toMatch(/resuming after the 500 rows already in/);
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
    });

    it("a second run on the same -o FILE gets one line and exit 75 (busy: retry later) while the first goes on undisturbed", async () => {
        const out = join(tmp, "locked.jsonl");
        // the first run reads a pipe the test holds open, so that it is surely still running when the others start
        const first = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-", "-m", tinyModel, "-q", "-o", out, "--resume"],
            { stdio: ["pipe", "ignore", "pipe"] });
        let firstErr = "";
        first.stderr!.on("data", (c) => (firstErr += c));
        const firstExit = new Promise<number | null>((resolve) => first.on("exit", resolve));
        const lines = readFileSync(input, "utf8").split(/(?<=\n)/);
        first.stdin!.write(lines.slice(0, 10).join(""));
        await until(() => existsSync(out) && statSync(out).size > 0);
        for (const args of [["-", "--resume"], [input], [input, "--resume"]]) {
            const run = await runBuiltCli(["score", ...args, "-m", tinyModel, "-q", "-o", out], "");
            expect(run.stderr).toMatch(new RegExp(`^nemoreward: error: ${out} is being written by another run \\(pid \\d+ on [^)]+\\): ` +
                `wait for it to finish, or remove ${out}.lock if no such run is going on\n$`));
            expect(run.code).toBe(75);
        }
        first.stdin!.end(lines.slice(10).join(""));
        expect(await firstExit).toBe(0);
        expect(firstErr).toBe("");
        expect(readFileSync(out, "utf8")).toBe(await uninterrupted());
        expect(readFileSync(`${out}.resume`, "utf8").trim().split("\n")).toHaveLength(501);
        expect(existsSync(`${out}.lock`)).toBe(false);
    });
});

describe("a run that fails a check leaves every file as it was", () => {
    it("a resume refused for other settings or other input leaves the file and its records as they were", async () => {
        const folder = newDir("resume-refused");
        const out = join(folder, "out.jsonl");
        const input = join(folder, "in.jsonl");
        writeFileSync(input, demoLines.join(""));
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1"])).code).toBe(0);
        const before = snapshot(folder);
        const otherSettings = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1", "--resume", "--precise"]);
        expect(otherSettings.code).toBe(2);
        writeFileSync(input, demoLines.slice().reverse().join(""));
        const otherInput = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--shard", "0/1", "--resume"]);
        expect(otherInput.stderr).toMatch(/was written from other input: row 1/);
        expect(otherInput.code).toBe(2);
        writeFileSync(input, demoLines.join(""));
        expect(snapshot(folder)).toEqual(before);
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

describe("--resume continues only what the same command wrote", () => {
    it("a file render wrote is not continued by score: refused, the file as it was", async () => {
        for (const format of ["jsonl", "csv"]) {
            const folder = join(tmp, `render-then-score-${format}`);
            mkdirSync(folder);
            const input = join(folder, "in.jsonl"), out = join(folder, `out.${format}`);
            const lines = readFileSync(demoConversations, "utf8").trim().split("\n");
            writeFileSync(input, `${lines.slice(0, 2).join("\n")}\n`);
            expect((await runInProcess(["render", input, "-m", tinyModel, "-o", out])).code).toBe(0);
            writeFileSync(input, `${lines.join("\n")}\n`);
            const before = readFileSync(out);
            const resumed = await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--resume"]);
            expect(resumed.stderr).toMatch(/was written with other settings \(rows "render" → "score"\)/);
            expect(resumed.code).toBe(2);
            expect(readFileSync(out)).toEqual(before);
        }
    });
});

describe("CSV whose first rows hold no record", () => {
    it("rows written under `line` columns (no record yet) are written again by a resumed run: the same bytes as one run", async () => {
        const folder = join(tmp, "held-rows");
        mkdirSync(folder);
        const input = join(folder, "in.jsonl"), out = join(folder, "out.csv"), whole = join(folder, "whole.csv");
        const lines = readFileSync(demoConversations, "utf8").trim().split("\n");
        writeFileSync(input, "not json\n");
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", out])).code).toBe(3);
        expect(readFileSync(out, "utf8").split("\n")[0]).toBe("line,reward,special_tokens_in_content,error");
        writeFileSync(input, `not json\n${lines.slice(0, 3).join("\n")}\n`);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", out, "--resume"])).code).toBe(3);
        expect((await runInProcess(["score", input, "-m", tinyModel, "-o", whole])).code).toBe(3);
        expect(readFileSync(out, "utf8")).toBe(readFileSync(whole, "utf8"));
        expect(readFileSync(out, "utf8").split("\n")[0]).not.toBe("line,reward,special_tokens_in_content,error");
    });
});

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
        // input row's text, where its output ends, the CRC-32 of the file up to there, "e" for an error row)
        const inputFd = openSync(input, "w"), outFd = openSync(out, "w"), logFd = openSync(`${out}.resume`, "w");
        writeSync(logFd, `${header}\n`);
        let offset = 0, crc = 0, chunk = "", outChunk = "", logChunk = "";
        for (let i = 0; i < rows; i++) {
            const text = line(i);
            chunk += `${text}\n`;
            const outLine = `${written.replace('{"id":0,', `{"id":${i},`)}\n`;
            outChunk += outLine;
            offset += Buffer.byteLength(outLine);
            crc = crc32(outLine, crc);
            logChunk += `${hash("sha1", text).slice(0, 16)} ${offset} ${crc.toString(16).padStart(8, "0")} e\n`;
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
