import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect, it } from "vitest";
import { ResumeSink } from "../../src/output/sinks.js";
import type { InputRow } from "../../src/input/inputRow.js";

it("--resume records a row held back by the writer only once its text is in the file", async () => {
    const path = join(mkdtempSync(join(tmpdir(), "nemoreward-sink-")), "out.csv");
    const row = (line: number): InputRow => ({ source: "in.jsonl", line, format: "jsonl", text: `row ${line}` });
    const first = new ResumeSink(path, { format: "csv" }, true);
    await first.row("", row(1), true);
    // killed here: the held row is not in the file, so a resumed run must do it again
    expect(new ResumeSink(path, { format: "csv" }, true).done).toEqual([]);
    const second = new ResumeSink(path, { format: "csv" }, true);
    await second.row("", row(1), true);
    await second.row("h\n1\n2\n", row(2), false);
    await second.end("");
    expect(readFileSync(path, "utf8")).toBe("h\n1\n2\n");
    expect(new ResumeSink(path, { format: "csv" }, true).done.map(({ end, failed }) => [end, failed])).toEqual([[6, true], [6, false]]);
});
