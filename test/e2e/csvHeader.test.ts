import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { exitCodes } from "../../src/errors.js";
import { newDir, runBuiltCli } from "../helpers.js";

const tmp = newDir("csv-header");
const noModel = { NEMOREWARD_MODEL: "/nonexistent/model.gguf", NEMOREWARD_HOME: join(tmp, "empty-home") };

describe("a CSV header that names a column twice", () => {
    it("comes out as the user wrote it (note,note), from a file and from standard input, also when an earlier run's error column is rewritten in place, and in TSV", async () => {
        const csv = 'prompt,response,score,note,note\n"a,b",x,1.5,007,\nc,d,2,x,y\n';
        const first = join(tmp, "c1.csv");
        writeFileSync(first, csv);
        const kept = join(tmp, "k.csv");
        const run = await runBuiltCli(["filter", first, "--field", "score", "--min-reward", "0", "-o", kept], undefined, noModel);
        expect(run.code, run.stderr).toBe(exitCodes.ok);
        expect(readFileSync(kept, "utf8").split("\n")[0]).toBe("prompt,response,score,note,note,error");
        // the file filter wrote, filtered again: its error column is the tool's, rewritten in place
        for (const [format, header] of [["csv", "prompt,response,score,note,note,error"], ["tsv", "prompt\tresponse\tscore\tnote\tnote\terror"]]) {
            const fromFile = await runBuiltCli(["filter", kept, "--field", "score", "--min-reward", "0", "--format", format!], undefined, noModel);
            const fromStdin = await runBuiltCli(["filter", "--input-format", "csv", "--field", "score", "--min-reward", "0", "--format", format!], readFileSync(kept, "utf8"), noModel);
            for (const again of [fromFile, fromStdin]) {
                expect(again.code, again.stderr).toBe(exitCodes.ok);
                expect(again.stdout.split("\n")[0]).toBe(header);
                expect(again.stderr).not.toMatch(/of its own/);
            }
            expect(fromStdin.stdout).toBe(fromFile.stdout);
        }
    });
});
