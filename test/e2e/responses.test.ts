import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { demoConversations, groupWithUnreadableRow, parseJsonl, referenceRewards, runInProcess, tinyModel } from "../helpers.js";

const tmp = mkdtempSync(join(tmpdir(), "nemoreward-responses-"));
const rewardOf = referenceRewards();

describe("scoring pairs and best-of-N rows", () => {
    it("adds reward_chosen/reward_rejected/margin, reward_1/reward_2/margin/preferred, rewards/best", async () => {
        const rows = [
            { prompt: "2+2?", chosen: "4", rejected: "5" },
            { prompt: "2+2?", response_1: "4", response_2: "5" },
            { prompt: "2+2?", responses: ["5", "4", "Four", "22"] },
        ];
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], rows.map((r) => JSON.stringify(r)).join("\n"));
        expect(code).toBe(0);
        const [cr, pair, many] = parseJsonl(stdout);
        const r4 = rewardOf("2+2?", "4"), r5 = rewardOf("2+2?", "5");
        expect(Math.abs(cr!.reward_chosen - r4)).toBeLessThan(1e-4);
        expect(Math.abs(cr!.reward_rejected - r5)).toBeLessThan(1e-4);
        expect(cr!.margin).toBeCloseTo(cr!.reward_chosen - cr!.reward_rejected, 12);
        expect(pair!.margin).toBeCloseTo(pair!.reward_2 - pair!.reward_1, 12);
        expect(pair!.preferred).toBe(r5 > r4 ? 2 : 1);
        const expected = ["5", "4", "Four", "22"].map((r) => rewardOf("2+2?", r));
        many!.rewards.forEach((r: number, i: number) => expect(Math.abs(r - expected[i]!)).toBeLessThan(1e-4));
        expect(many!.best).toBe(expected.indexOf(Math.max(...expected)));
    });

    it("reads RewardBench pairs given as whole message lists", async () => {
        const asMessages = (prompt: string, answer: string) => [{ role: "user", content: prompt }, { role: "assistant", content: answer }];
        const row = { chosen: asMessages("2+2?", "4"), rejected: asMessages("2+2?", "5") };
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--precise"], JSON.stringify(row));
        const [scored] = parseJsonl(stdout);
        expect(Math.abs(scored!.reward_chosen - rewardOf("2+2?", "4"))).toBeLessThan(1e-4);
        expect(Math.abs(scored!.reward_rejected - rewardOf("2+2?", "5"))).toBeLessThan(1e-4);
    });

    it("--rank --group-by FIELD groups by that field instead of the prompt", async () => {
        const rows = [["A", "Q1", "a"], ["A", "Q2", "bb"], ["B", "Q3", "ccc"]].map(([task, prompt, response]) => ({ task, prompt, response }));
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank", "--group-by", "task"], rows.map((r) => JSON.stringify(r)).join("\n"));
        const out = parseJsonl(stdout);
        expect(out.slice(0, 2).map((r) => r.rank).sort()).toEqual([1, 2]);
        expect(out[2]).toMatchObject({ rank: 1, z: 0 });
    });

    it("--rank adds rank and z within each run of rows sharing a prompt", async () => {
        const rows = [["Q1", "a"], ["Q1", "bb"], ["Q1", "ccc"], ["Q2", "d"], ["Q2", "ee"]].map(([prompt, response]) => ({ prompt, response }));
        const { stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows.map((r) => JSON.stringify(r)).join("\n"));
        const out = parseJsonl(stdout);
        for (const group of [out.slice(0, 3), out.slice(3)]) {
            const rewards = group.map((r) => r.reward as number);
            const mean = rewards.reduce((a, b) => a + b, 0) / rewards.length;
            const sd = Math.sqrt(rewards.reduce((a, r) => a + (r - mean) ** 2, 0) / rewards.length);
            group.forEach((row) => {
                expect(row.rank).toBe(1 + rewards.filter((r) => r > row.reward).length);
                expect(row.z).toBeCloseTo((row.reward - mean) / sd, 9);
            });
        }
        expect(out.map((r) => r.response)).toEqual(rows.map((r) => r.response));
    });
});

describe("groups of rows sharing a prompt", () => {
    const rows = groupWithUnreadableRow;

    it("--rank: an unreadable row in the middle does not split the group", async () => {
        const { code, stdout } = await runInProcess(["score", "-", "-m", tinyModel, "--rank"], rows);
        expect(code).toBe(3);
        const out = parseJsonl(stdout);
        expect(out).toHaveLength(5);
        expect(out[2]).toMatchObject({ rank: null, z: null, error: expect.stringMatching(/not valid JSON/) });
        const scored = out.filter((row) => typeof row.reward === "number");
        expect(scored.map((row) => row.rank).sort()).toEqual([1, 2, 3, 4]);
        const best = scored.reduce((a, b) => (b.reward > a.reward ? b : a));
        expect(best.rank).toBe(1);
    });
});

describe("refusing what would lose rows", () => {
    it.each([
        [["--rank", "--resume", "-o", "OUT"], /--rank cannot be combined with --resume/],
        [["--rank", "--shard", "0/2"], /--rank cannot be combined with --shard/],
        [["--group-by", "id"], /--group-by goes with --rank/],
    ])("score %j is a usage error", async (flags, message) => {
        const args = flags.map((f) => (f === "OUT" ? join(tmp, "ranked.jsonl") : f));
        const { code, stderr } = await runInProcess(["score", demoConversations, "-m", tinyModel, ...args]);
        expect(code).toBe(2);
        expect(stderr).toMatch(message);
    });
});
