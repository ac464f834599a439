import { Chalk } from "chalk";
import { describe, expect, it } from "vitest";
import { createRowWriter, type OutputFormat } from "../../src/output/formats.js";
import type { InputRow } from "../../src/input/inputRow.js";

describe("a row that cannot be written", () => {
    it.each<OutputFormat>(["jsonl", "json", "csv"])("%s: becomes that row's error, and the rows after it are written", (format) => {
        const warnings: string[] = [];
        const writer = createRowWriter(format, { added: () => ["reward", "error"], warn: (m) => warnings.push(m), color: new Chalk({ level: 0 }), width: 80 });
        // a record too deep for JSON.stringify, in a row whose record is re-serialized (not JSON text)
        let deep: unknown = [];
        for (let i = 0; i < 200_000; i++) deep = [deep];
        const row = (line: number, record: Record<string, unknown>): InputRow => ({ source: "in.csv", line, format: "csv", text: "", record });
        const text = [
            writer.row({ input: row(2, { prompt: "a" }), fields: { reward: 1 } }),
            writer.row({ input: row(3, { prompt: deep }), fields: { reward: 2 } }),
            writer.row({ input: row(4, { prompt: "c" }), fields: { reward: 3 } }),
        ].join("") + writer.end();
        expect(warnings).toEqual([expect.stringMatching(/^in\.csv:3: cannot write this row: Maximum call stack size exceeded/)]);
        const rewards = format === "csv" ? text.trim().split("\n").slice(1).map((l) => l.split(",")[1])
            : format === "json" ? JSON.parse(text).map((r: { reward: unknown }) => r.reward)
            : text.trim().split("\n").map((l) => JSON.parse(l).reward);
        expect(rewards.map(String)).toEqual(["1", format === "csv" ? "" : "null", "3"]);
    });
});
