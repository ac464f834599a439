import { spawn } from "node:child_process";
import { existsSync, linkSync, mkdtempSync, openSync, readdirSync, readFileSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { duck } from "../duckdb.js";
import {
    claimed, cli, demoConversations, heldRun, newDir, parseJsonl, repoRoot, runBuiltCli, runInProcess, snapshot, tinyModel,
} from "../helpers.js";

/**
 * Every file a command writes goes through one owner: checked, locked by the file's identity, opened only once
 * every check has passed, and written whole or not at all. Each case here lost or altered data before.
 */

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-file-safety-"));
const demoLines = readFileSync(demoConversations, "utf8").split(/(?<=\n)/);

describe("a second writer is refused while the first writes, for every output format and every name of the file", () => {
    it.each(["parquet", "json", "jsonl", "csv"])("-o x.%s: the second run gets one line and exit 75 (busy); the first finishes a whole file", async (format) => {
        const folder = newDir(format);
        const out = join(folder, `x.${format}`);
        const first = heldRun(["-o", out]);
        await claimed(`${out}.lock`);
        const link = join(folder, `link.${format}`);
        symlinkSync(out, link);
        for (const path of [out, link, join(folder, ".", `x.${format}`)]) {
            const second = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-o", path]);
            expect(second.stderr).toMatch(new RegExp(`^nemoreward: error: ${path.replace(/[.]/g, "[.]")} is being written by another run \\(pid \\d+ on [^)]+\\)`));
            expect(second.code).toBe(75);
        }
        const done = await first.finish();
        expect(done.stderr).toBe("");
        expect(done.code).toBe(0);
        const rows = format === "parquet" ? await duck(`SELECT id FROM '${out}'`)
            : format === "json" ? JSON.parse(readFileSync(out, "utf8")) as Record<string, unknown>[]
            : format === "csv" ? readFileSync(out, "utf8").trim().split("\n").slice(1).map((line) => ({ id: line.split(",")[0] }))
            : parseJsonl(readFileSync(out, "utf8"));
        expect(rows.map((r) => Number(r["id"]))).toEqual([1, 2, 3, 4, 5]);
    });

    it("a hard link to a file written in place is refused: writing it would change the other name too", async () => {
        const folder = newDir("hardlink");
        const out = join(folder, "x.jsonl"), alias = join(folder, "alias.jsonl");
        const first = heldRun(["-o", out]);
        await claimed(out); // opened: the model has loaded
        linkSync(out, alias);
        const second = await runBuiltCli(["score", demoConversations, "-m", tinyModel, "-o", alias]);
        expect(second.stderr.trim()).toBe(`nemoreward: error: ${alias} has 2 names (hard links): writing it in place would change it under the others too; write elsewhere`);
        expect(second.code).toBe(2);
        expect((await first.finish()).code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual([1, 2, 3, 4, 5]);
    });
});

describe("--rejects and --per-row are outputs like -o", () => {
    it("--rejects naming the output, its .resume or .shard record, or the input is refused before anything is written", async () => {
        const folder = newDir("rejects");
        const out = join(folder, "out.jsonl");
        writeFileSync(out, "old\n");
        writeFileSync(`${out}.resume`, "old record\n");
        const before = snapshot(folder);
        for (const rejects of [out, join(folder, ".", "out.jsonl")]) {
            const run = await runInProcess(["score", demoConversations, "-m", tinyModel, "--min-reward", "0", "-o", out, "--rejects", rejects]);
            expect(run.stderr).toMatch(/^nemoreward: error: --rejects .* and -o .* would both write .*: each output needs a file of its own\n$/);
            expect(run.code).toBe(2);
        }
        for (const rejects of [`${out}.resume`, `${out}.shard`]) {
            const run = await runInProcess(["score", demoConversations, "-m", tinyModel, "--min-reward", "0", "-o", out, "--rejects", rejects]);
            expect(run.stderr).toBe(`nemoreward: error: cannot write ${rejects}: names ending in .resume, .shard, .lock, .partial are the files nemoreward keeps beside its outputs; name it otherwise\n`);
            expect(run.code).toBe(2);
        }
        const input = await runInProcess(["score", demoConversations, "-m", tinyModel, "--min-reward", "0", "-o", out, "--rejects", demoConversations]);
        expect(input.stderr).toMatch(/is also an input/);
        expect(snapshot(folder)).toEqual(before);
    });
});

describe("a run that fails a check leaves every file as it was", () => {
    // outputs that exist before the run, with bytes that must survive it
    const prepare = () => {
        const folder = newDir("failed");
        const files = {
            out: join(folder, "out.jsonl"), rejects: join(folder, "rejects.jsonl"), perRow: join(folder, "per-row.jsonl"), report: join(folder, "report.json"),
            pairs: join(folder, "pairs.jsonl"), parquet: join(folder, "out.parquet"), csv: join(folder, "out.csv"), merged: join(folder, "merged.jsonl"),
        };
        for (const [name, path] of Object.entries(files)) writeFileSync(path, `old ${name}\n`);
        writeFileSync(`${files.out}.resume`, '{"nemoreward":2,"format":"jsonl"}\n');
        writeFileSync(`${files.out}.shard`, '{"index":0,"count":2,"rows":1,"complete":true}\n');
        const badTemplate = join(folder, "bad.jinja"), raising = join(folder, "raising.jinja"), notModel = join(folder, "not-a-model.gguf");
        writeFileSync(badTemplate, "{% for m in messages %}{{ m.content }");
        writeFileSync(raising, "{{ raise_exception('no') }}");
        writeFileSync(notModel, "not a model");
        return { folder, files, badTemplate, raising, notModel, missing: join(folder, "missing.jinja") };
    };

    it("every command and every output it writes: a template that is missing, does not parse or raises (exit 2), a file that is no model (exit 1)", async () => {
        const { folder, files, badTemplate, raising, notModel, missing } = prepare();
        const commands: string[][] = [
            ["score", demoConversations, "-o", files.out],
            ["score", demoConversations, "-o", files.out, "--shard", "0/2"],
            ["score", demoConversations, "-o", files.parquet],
            ["score", demoConversations, "-o", files.csv, "--top-k", "1", "--rejects", files.rejects],
            ["render", demoConversations, "-o", files.out],
            ["eval", demoConversations, "-o", files.report, "--per-row", files.perRow],
            ["pairs", demoConversations, "-o", files.pairs],
        ];
        const before = snapshot(folder);
        for (const command of commands) {
            for (const [flags, code] of [[["--chat-template", missing], 2], [["--chat-template", badTemplate], 2], [["--chat-template", raising], 2], [["-m", notModel], 1]] as const) {
                const run = await runInProcess([...command, ...(flags[0] === "-m" ? [] : ["-m", tinyModel]), ...flags]);
                expect(run.code, `${command.join(" ")} ${flags.join(" ")}: ${run.stderr}`).toBe(code);
                expect(run.stderr.trim().split("\n")).toHaveLength(1);
                expect(snapshot(folder), `${command.join(" ")} ${flags.join(" ")}`).toEqual(before);
            }
        }
    });
});

describe("-o is checked before anything is loaded", () => {
    it("refuses the model file and the chat template file, leaving them as they were", async () => {
        const model = join(tmp, "model-copy.gguf");
        writeFileSync(model, readFileSync(tinyModel));
        const template = join(tmp, "template.jinja");
        writeFileSync(template, "{{ messages[0].content }}");
        for (const [output, what] of [[model, "the model"], [template, "the chat template"]] as const) {
            for (const command of [["score", "--format", "jsonl"], ["pairs"]]) {
                const run = await runInProcess([...command, demoConversations, "-m", model, "--chat-template", template, "-o", output]);
                expect(run.code).toBe(2);
                expect(run.stderr).toBe(`nemoreward: error: ${output} is also ${what} (${output}): writing it would destroy ${what}\n`);
            }
        }
        expect(readFileSync(model)).toEqual(readFileSync(tinyModel));
        expect(readFileSync(template, "utf8")).toBe("{{ messages[0].content }}");
    });

    it("-o into a missing folder is a usage error before the model loads", async () => {
        // a model file that is no model: loading it first would fail with exit 1
        const notAModel = join(tmp, "not-a-model.gguf");
        writeFileSync(notAModel, "not a model");
        const output = join(tmp, "no-such-folder", "out.jsonl");
        const run = await runInProcess(["score", demoConversations, "-m", notAModel, "-o", output]);
        expect(run.stderr).toBe(`nemoreward: error: cannot write ${output}: there is no folder ${join(tmp, "no-such-folder")}\n`);
        expect(run.code).toBe(2);
    });
});

describe("refusing what would lose rows", () => {
    it("-o naming an input file (also through another path), and merge writing over a shard: exit 2, input untouched", async () => {
        const data = join(tmp, "precious.jsonl");
        writeFileSync(data, readFileSync(demoConversations));
        for (const output of [data, join(tmp, ".", "precious.jsonl")]) {
            const { code, stderr } = await runInProcess(["score", data, "-m", tinyModel, "-o", output]);
            expect(code).toBe(2);
            expect(stderr).toMatch(/is also an input/);
        }
        // `nemoreward score -o FILE < FILE`: standard input is that file
        const redirected = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-m", tinyModel, "-o", data],
            { stdio: [openSync(data, "r"), "ignore", "pipe"] });
        let redirectedErr = "";
        redirected.stderr!.on("data", (c) => (redirectedErr += c));
        expect(await new Promise((resolve) => redirected.on("close", resolve))).toBe(2);
        expect(redirectedErr).toMatch(/is also an input \(-\)/);
        // /dev/null in and out is no file of data
        const nulls = spawn(process.execPath, [`${repoRoot}bin/nemoreward.js`, "score", "-m", tinyModel, "-o", "/dev/null", "--format", "jsonl"],
            { stdio: [openSync("/dev/null", "r"), "ignore", "ignore"] });
        expect(await new Promise((resolve) => nulls.on("close", resolve))).toBe(0);
        // a run that cannot start (no such chat template) leaves an existing output alone
        const previous = join(tmp, "previous.jsonl");
        writeFileSync(previous, "kept\n");
        const noTemplate = await runInProcess(["score", data, "-m", tinyModel, "-o", previous, "--chat-template", join(tmp, "nope.jinja")]);
        expect(noTemplate.code).toBe(2);
        expect(noTemplate.stderr).toMatch(/cannot read chat template/);
        expect(readFileSync(previous, "utf8")).toBe("kept\n");
        const pairsRun = await runInProcess(["pairs", data, "-m", tinyModel, "-o", data]);
        expect(pairsRun.code).toBe(2);
        const evalRun = await runInProcess(["eval", data, "-m", tinyModel, "--per-row", data]);
        expect(evalRun.code).toBe(2);
        const parts = [0, 1].map((k) => join(tmp, `keep-${k}.jsonl`));
        for (const [k, part] of parts.entries()) await runInProcess(["score", data, "-m", tinyModel, "--shard", `${k}/2`, "-o", part]);
        const shard0 = readFileSync(parts[0]!, "utf8");
        const merge = await runInProcess(["merge", parts[0]!, ...parts]);
        expect(merge.code).toBe(2);
        expect(readFileSync(parts[0]!, "utf8")).toBe(shard0);
        expect(readFileSync(data)).toEqual(readFileSync(demoConversations));
    });
});

describe("stderr is for people: its reader going away never stops the data", () => {
    it("with stderr closed after 10 bytes, every row is written, the lock released, exit 0", async () => {
        const folder = newDir("stderr");
        const input = join(folder, "in.jsonl"), out = join(folder, "out.jsonl");
        writeFileSync(input, Array.from({ length: 300 }, (_, i) => JSON.stringify({ ...JSON.parse(demoLines[i % 5]!), id: i })).join("\n") + "\n");
        const run = await new Promise<{ code: number | null }>((resolve) => {
            const child = spawn("bash", ["-c", `"$0" "$1" score "$2" -m "$3" -o "$4" --progress-seconds 0 2> >(head -c 10 > /dev/null)`, process.execPath, cli, input, tinyModel, out]);
            child.on("close", (code) => resolve({ code }));
        });
        expect(run.code).toBe(0);
        expect(parseJsonl(readFileSync(out, "utf8")).map((r) => r.id)).toEqual(Array.from({ length: 300 }, (_, i) => i));
        expect(existsSync(`${out}.lock`)).toBe(false);
        expect(statSync(`${out}.resume`).size).toBeGreaterThan(300 * 17);
    });
});

/** Runs the built CLI from bash (`script` may use "$0" for node, "$1" for the CLI, "$2".. for `args`); its exit status and stderr. */
function inBash(script: string, args: string[], stdout: "pipe" | number = "pipe"): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const child = spawn("bash", ["-c", script, process.execPath, cli, ...args], { stdio: ["ignore", stdout, "pipe"] });
        let out = "", err = "";
        child.stdout?.on("data", (c) => (out += c));
        child.stderr!.on("data", (c) => (err += c));
        child.on("close", (code) => resolve({ code, stdout: out, stderr: err }));
    });
}

describe("a write that fails leaves every file as it was", () => {
    it.each(["json", "txt", "parquet"])("-o x.%s on a full disk (a file size limit): exit 1, one line naming the file, the old file kept, no .partial left", async (format) => {
        const folder = newDir(`full-${format}`);
        const input = join(folder, "in.jsonl"), out = join(folder, `out.${format}`);
        // about 100 KB of output: under the 1 MiB the owner holds before writing, so the last write is the one that fails
        writeFileSync(input, Array.from({ length: 200 }, (_, i) => JSON.stringify({ ...JSON.parse(demoLines[i % 5]!), id: i, pad: Array.from({ length: 80 }, (_, j) => ((i * 7919 + j * 104729) % 99991).toString(36)).join("") })).join("\n") + "\n");
        writeFileSync(out, "the old bytes");
        const before = snapshot(folder);
        const run = await inBash(`ulimit -f 16; exec "$0" "$1" score "$2" -m "$3" -o "$4" -q`, [input, tinyModel, out]);
        expect(run.stderr).toMatch(new RegExp(`^nemoreward: error: cannot write ${out.replace(/[.]/g, "[.]")}: EFBIG`));
        expect(run.code).toBe(1);
        expect(snapshot(folder)).toEqual(before);
    });
});

describe("a descriptor given as -o (/dev/stdout, /dev/fd/N) is written as a stream, appended to", () => {
    it("-o /dev/stdout into a pipe: the rows; appended (>>) to a file: its earlier lines kept, no record beside it", async () => {
        const folder = newDir("dev-stdout");
        const piped = await inBash(`"$0" "$1" score "$2" -m "$3" -o /dev/stdout --format jsonl -q | cat`, [demoConversations, tinyModel]);
        expect(piped.stderr).toBe("");
        expect(parseJsonl(piped.stdout)).toHaveLength(5);
        for (const [name, format] of [["log.jsonl", "jsonl"], ["log.parquet", "parquet"]] as const) {
            const log = join(folder, name);
            writeFileSync(log, "an earlier line\n");
            for (const device of ["/dev/stdout", "/dev/fd/1"]) {
                const appended = await inBash(`"$0" "$1" score "$2" -m "$3" -o ${device} --format ${format} -q >> "$4"`, [demoConversations, tinyModel, log]);
                expect(appended.stderr).toBe("");
                expect(appended.code).toBe(0);
            }
            const text = readFileSync(log);
            expect(text.subarray(0, 16).toString()).toBe("an earlier line\n");
            if (format === "jsonl") expect(parseJsonl(text.subarray(16).toString()).map((r) => r.id)).toEqual([1, 2, 3, 4, 5, 1, 2, 3, 4, 5]);
            else expect(text.subarray(16, 20).toString()).toBe("PAR1");
        }
        expect(readdirSync(folder).sort()).toEqual(["log.jsonl", "log.parquet"]);
    });

    it("-o /dev/fd/N and an input /dev/fd/N are the descriptor the shell gave, whatever its number; one not given is refused", async () => {
        const folder = newDir("dev-fd");
        const csv = join(folder, "in.csv");
        writeFileSync(csv, "prompt,response\nSay hi.,Hello.\nSay hi.,Hi.\n");
        const expected = (await runBuiltCli(["score", csv, "-m", tinyModel, "--format", "jsonl", "-q"])).stdout;
        // 3: where the run's channel to its supervisor was; 9: among the supervisor's own descriptors
        for (const fd of [3, 9]) {
            const log = join(folder, `log${fd}`);
            writeFileSync(log, "an earlier line\n");
            const run = await inBash(`"$0" "$1" score "$2" -m "$3" -o /dev/fd/${fd} --format jsonl -q ${fd}>> "$4"`, [csv, tinyModel, log]);
            expect(run.stderr, `fd ${fd}`).toBe("");
            expect(readFileSync(log, "utf8"), `fd ${fd}`).toBe(`an earlier line\n${expected}`);
        }
        const read = await inBash(`"$0" "$1" score /dev/fd/5 -m "$3" --format jsonl -q 5< "$2"`, [csv, tinyModel]);
        expect(read.stdout).toBe(expected);
        const unopened = await inBash(`"$0" "$1" score "$2" -m "$3" -o /dev/fd/7 --format jsonl`, [csv, tinyModel]);
        expect(unopened.stderr).toBe("nemoreward: error: /dev/fd/7 names descriptor 7, which was not open when nemoreward started (open it: 7> FILE, 7< FILE)\n");
        expect(unopened.code).toBe(2);
        // standard output by a link to the folder of descriptors: the same stream
        symlinkSync("/proc/self/fd", join(folder, "fds"));
        const log = join(folder, "linked.jsonl");
        writeFileSync(log, "an earlier line\n");
        const linked = await inBash(`cd "$4" && "$0" "$1" score "$2" -m "$3" -o fds/1 --format jsonl -q >> linked.jsonl`, [csv, tinyModel, folder]);
        expect(linked.code, linked.stderr).toBe(0);
        expect(readFileSync(log, "utf8")).toBe(`an earlier line\n${expected}`);
        expect(existsSync(`${log}.resume`)).toBe(false);
    });

    it("standard output and --rejects or --per-row sent to one file are refused: each output needs a file of its own", async () => {
        const folder = newDir("stdout-rejects");
        const rejects = join(folder, "rej.jsonl"), perRow = join(folder, "pr.jsonl");
        writeFileSync(rejects, "an earlier line\n");
        writeFileSync(perRow, "an earlier line\n");
        const before = snapshot(folder);
        const score = await inBash(`"$0" "$1" score "$2" -m "$3" --min-reward 0 --rejects "$4" --format jsonl >> "$4"`, [demoConversations, tinyModel, rejects]);
        expect(score.stderr).toMatch(/^nemoreward: error: --rejects .*rej\.jsonl and standard output are one file/);
        expect(score.code).toBe(2);
        const preferences = join(folder, "prefs.jsonl");
        writeFileSync(preferences, '{"prompt":"Say hi.","chosen":"Hello.","rejected":"Go away."}\n');
        const evalRun = await inBash(`"$0" "$1" eval "$2" -m "$3" --per-row "$4" >> "$4"`, [preferences, tinyModel, perRow]);
        expect(evalRun.stderr).toMatch(/one file: each output needs a file of its own/);
        expect(evalRun.code).toBe(2);
        expect(snapshot(folder)).toEqual({ ...before, "prefs.jsonl": expect.any(String) });
    });

    it("standard output appended to an input (>> FILE, -o /dev/stdout >> FILE) is refused: the run would read its own rows", async () => {
        const folder = newDir("stdout-input");
        const input = join(folder, "in.jsonl");
        writeFileSync(input, readFileSync(demoConversations));
        for (const output of [[], ["-o", "/dev/stdout"]]) {
            const run = await inBash(`"$0" "$1" score "$2" -m "$3" ${output.join(" ")} --format jsonl >> "$2"`, [input, tinyModel]);
            expect(run.stderr).toMatch(/is also an input \(.*in\.jsonl\): writing it would destroy that input/);
            expect(run.code).toBe(2);
        }
        expect(readFileSync(input)).toEqual(readFileSync(demoConversations));
    });
});
