import { beforeAll, describe, expect, it } from "vitest";
import { loadReferenceModel } from "../reference/referenceModel.js";
import { ChatTemplate } from "../../src/template/chatTemplate.js";
import { llama31Template } from "../../src/template/llama31Template.js";
import { parseJsonl, runInProcess, tinyModel } from "../helpers.js";

// Best-of-N data: 3 prompts × 4 responses, each prompt's responses on consecutive rows, as sampling jobs write them.
const prompts = ["Explain why the sky is blue, in detail, for a curious child.", "List three prime numbers.", "Translate 'good morning' into French."];
const responses = ["Because of Rayleigh scattering.", "I don't know.", "The sky reflects the ocean, which is blue.", "Light scatters; blue scatters most."];
const records = prompts.flatMap((prompt) => responses.map((response) => ({ prompt, response })));
const input = records.map((r) => JSON.stringify(r)).join("\n");

const template = new ChatTemplate(llama31Template, { bos_token: "<|begin_of_text|>", eos_token: "<|eot_id|>" });
let expected: number[];

beforeAll(async () => {
    const reference = await loadReferenceModel(tinyModel);
    expected = records.map((r) => reference.logits(reference.tokenize(template.render([
        { role: "user", content: r.prompt }, { role: "assistant", content: r.response },
    ])), [0])[0]!);
    // rows are told apart by far more than the tolerances below, so a row scored out of place would show
    const sorted = [...expected].sort((a, b) => a - b);
    expect(Math.min(...sorted.slice(1).map((x, i) => x - sorted[i]!))).toBeGreaterThan(2e-4);
});

async function rewards(...flags: string[]): Promise<number[]> {
    const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--gpu", "cpu", ...flags], input);
    expect(code).toBe(0);
    return parseJsonl(stdout).map((r) => r.reward);
}

const maxDifference = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!)));

describe("prefix reuse and parallel sequences do not change the rewards", () => {
    it("with --precise, reuse on and off agree within 1e-4, and both match the float64 reference (1e-4)", async () => {
        const reused = await rewards("--precise");
        const fresh = await rewards("--precise", "--no-reuse");
        expect(maxDifference(reused, fresh)).toBeLessThan(1e-4);
        expect(maxDifference(reused, expected)).toBeLessThan(1e-4);
        expect(maxDifference(fresh, expected)).toBeLessThan(1e-4);
    });

    it.each([2, 4])("with --precise, --parallel %i agrees with --parallel 1 within 1e-4, in input order", async (n) => {
        const one = await rewards("--precise", "--parallel", "1");
        const many = await rewards("--precise", "--parallel", String(n));
        expect(maxDifference(one, many)).toBeLessThan(1e-4);
        expect(maxDifference(many, expected)).toBeLessThan(1e-4);
    });

    it("with default settings, reuse changes no bit and parallel moves rewards by float rounding only", async () => {
        const base = await rewards("--no-reuse");
        expect(await rewards()).toEqual(base);
        expect(maxDifference(base, await rewards("--parallel", "4"))).toBeLessThan(1e-4);
    });
});

describe("a row's reward does not depend on the rows scored before it, with flash attention too", () => {
    // Long prompts, so that rows reach past one 512-token batch, and answers of every length, so that the part of a
    // row left to evaluate after a reused prompt, and the tail after the last full batch, take every small size.
    const words = "rain falls softly on green hills while the quick brown fox jumps over a lazy dog".split(" ");
    const prompt = (n: number, seed: number) => Array.from({ length: n }, (_, i) => words[(i * 5 + seed) % words.length]).join(" ");
    const rows = [380, 520].flatMap((n, p) => Array.from({ length: 12 }, (_, i) => ({
        prompt: prompt(n, p), response: prompt(3 + i * i, i + 7),
    })));
    const text = (list: typeof rows) => list.map((r) => JSON.stringify(r)).join("\n");

    async function scores(list: typeof rows, ...flags: string[]): Promise<number[]> {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--gpu", "cpu", ...flags], text(list));
        expect(code).toBe(0);
        return parseJsonl(stdout).map((r) => r.reward);
    }

    it.each([[[]], [["--flash-attention"]]])("bit-identical alone, after rows sharing its prompt, and in reverse order (%j)", async (flags) => {
        const alone = await scores(rows, "--no-reuse", ...flags);
        expect(await scores(rows, ...flags)).toEqual(alone);
        expect((await scores([...rows].reverse(), ...flags)).reverse()).toEqual(alone);
        // every row is told apart from the others, so a row scored out of place would show
        expect(new Set(alone).size).toBe(rows.length);
    });
});
