import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { jsonl, offered, repoRoot, runInProcess, tinyModel } from "../helpers.js";

it("--help shows an example for each common use", async () => {
    const { code, stdout } = await runInProcess(["score", "--help"]);
    expect(code).toBe(0);
    for (const example of ["score data.jsonl", "| jq", ".csv", "--format table", "--input-format csv", "--prompt-field", "--gpu cuda"])
        expect(stdout).toContain(example);
});

describe("each command's help offers what the command does", () => {
    it("info --gpu-layers max estimates all layers, as the README recommends max for score", async () => {
        const all = await runInProcess(["info", tinyModel, "--json"]);
        const max = await runInProcess(["info", tinyModel, "--json", "--gpu-layers", "max"]);
        expect(max.code).toBe(0);
        expect(max.stderr).toBe("");
        expect(JSON.parse(max.stdout).estimate).toEqual(JSON.parse(all.stdout).estimate);
        expect(JSON.parse(max.stdout).estimate.gpuLayers).toBe(JSON.parse(max.stdout).layers);
        expect((await runInProcess(["info", "--help"])).stdout).toMatch(/--gpu-layers <n\|max>/);
    });

    it("--max-errors says its default; every option score, eval, pairs, render and filter offer is in the README", async () => {
        const help = (await runInProcess(["score", "--help"])).stdout.replace(/\s+/g, " ");
        expect(help).toMatch(/--max-errors <n> [^(]*\(default: no limit\)/);
        const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
        for (const command of ["score", "eval", "pairs", "render", "filter"])
            for (const name of await offered(command))
                if (name !== "--help") expect(readme, `${command} ${name}`).toMatch(new RegExp(`${name}(?![\\w-])`));
    });
});

describe("messages for people", () => {
    it("Commander's own errors carry the nemoreward: prefix like every other error", async () => {
        for (const args of [["score", "--bogus"], ["score", "--threads", "zero"], ["frobnicate"], ["info", "--context-size"]]) {
            const { code, stdout, stderr } = await runInProcess(args);
            expect(code, args.join(" ")).toBe(2);
            expect(stdout).toBe("");
            expect(stderr, args.join(" ")).toMatch(/^nemoreward: error: /);
        }
    });

    it("the table lines up CJK text by its display width", async () => {
        const input = jsonl([
            { prompt: "日本の首都はどこですか？東京と大阪と京都のうち、どれが首都か教えてください。", response: "東京です。日本の首都は東京で、政治と経済の中心です。" },
            { prompt: "What is the capital of Japan? Tell me which of Tokyo, Osaka and Kyoto.", response: "Tokyo is the capital." },
            { prompt: "首都？", response: "東京" },
        ]);
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--format", "table"], input);
        expect(code).toBe(0);
        // East Asian wide characters take two columns; everything else here one
        const width = (s: string) => [...s].reduce((n, c) => n + (c.codePointAt(0)! >= 0x2e80 ? 2 : 1), 0);
        const lines = stdout.split("\n").filter((l) => l !== "").slice(1);
        expect(lines).toHaveLength(3);
        const arrows = lines.map((l) => width(l.slice(0, l.indexOf(" → "))));
        expect(new Set(arrows).size).toBe(1);
        for (const line of lines) expect(width(line)).toBeLessThanOrEqual(100);
        expect(new Set(lines.map(width)).size).toBe(1);
    });
});
