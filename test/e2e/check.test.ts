import { describe, expect, it } from "vitest";
import { modelCardCheck } from "../../src/eval/published.js";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { newDir, referenceRewards, runBuiltCli, tinyModel } from "../helpers.js";

const rewardOf = referenceRewards();

describe("nemoreward check", () => {
    it("on the tiny test model: the card's two answers scored (as the reference scores them), and plainly not the reward model, exit 0", async () => {
        const { code, stdout } = await runBuiltCli(["check", "-m", tinyModel, "--precise", "--json", "-q"]);
        expect(code).toBe(0);
        const report = JSON.parse(stdout);
        expect(report.reward_model).toBe(false);
        expect(report.order_right).toBeNull();
        expect(report.answers.map((a: { response: string; bf16: number }) => [a.response, a.bf16])).toEqual([["1+1=2", -3.28125], ["1+1=3", -4.28125]]);
        for (const a of report.answers) {
            expect(a.reward).toBeCloseTo(rewardOf("What is 1+1?", a.response), 4);
            expect(a.difference).toBeCloseTo(a.reward - a.bf16, 12);
        }
        expect(report.source).toBe(modelCardCheck.source);
        const table = await runBuiltCli(["check", "-m", tinyModel, "-q"]);
        expect(table.code).toBe(0);
        expect(table.stdout).toMatch(/^1\+1=2\s+-3\.28125\s+-?\d+\.\d{5}\s+[+-]\d+\.\d{5}$/m);
        expect(table.stdout).toMatch(/^not the reward model: 3 layers/m);
    });

    it("-m FILE that is no model: the same exit code and message as every command that loads one", async () => {
        const dir = newDir("check-no-model");
        const notModel = join(dir, "rows.jsonl"), input = join(dir, "in.jsonl");
        writeFileSync(notModel, '{"prompt":"p","response":"r"}\n');
        writeFileSync(input, '{"prompt":"p","chosen":"a","rejected":"b"}\n');
        const check = await runBuiltCli(["check", "-m", notModel, "--threads", "1"]);
        expect(check.code).toBe(1);
        expect(check.stdout).toBe("");
        expect(check.stderr).toMatch(/rows\.jsonl is not a readable GGUF model/);
        for (const command of ["score", "eval", "pairs", "render"]) {
            const other = await runBuiltCli([command, input, "-m", notModel, ...(command === "render" ? [] : ["--threads", "1"])]);
            expect([command, other.code, other.stderr]).toEqual([command, check.code, check.stderr]);
        }
    });
});
