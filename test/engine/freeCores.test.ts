import { afterEach, describe, expect, it, vi } from "vitest";
import { PassThrough } from "node:stream";
import { followFreeCores, freeCores, type CpuSample } from "../../src/engine/freeCores.js";
import { defaultThreads } from "../../src/engine/availableCores.js";
import { followsFreeCores, RewardEngine } from "../../src/engine/rewardEngine.js";
import { createLog } from "../../src/log.js";
import { demoConversations, runInProcess, tinyModel } from "../helpers.js";

/** A sample `seconds` in, on a 2-core machine where other processes kept `others` cores busy and we kept `own`. */
const at = (seconds: number, others: number, own = 0): CpuSample =>
    ({ at: seconds * 1000, cpus: 2, busyMs: (others + own) * seconds * 1000, ownMs: own * seconds * 1000 });

describe("threads follow the cores other processes leave free", () => {
    it("uses every core on an idle machine, one fewer per core kept busy by others, and never fewer than one", () => {
        expect(freeCores(at(0, 0), at(1, 0), 2)).toBe(2);
        expect(freeCores(at(0, 1), at(1, 1), 2)).toBe(1);
        expect(freeCores(at(0, 5), at(1, 5), 2)).toBe(1);
        // beside our two spinning threads a busy process gets two thirds of a core: still a core taken
        expect(freeCores(at(0, 2 / 3), at(1, 2 / 3), 2)).toBe(1);
    });

    it("does not count this process's own busy threads as others", () => {
        expect(freeCores(at(0, 0, 2), at(1, 0, 2), 2)).toBe(2);
    });

    it("never uses more than the cores this process may use", () => {
        expect(freeCores({ ...at(0, 0), cpus: 64 }, { ...at(1, 0), cpus: 64 }, 2)).toBe(2);
    });

    describe("while running", () => {
        afterEach(() => vi.useRealTimers());

        it("drops to one thread when another process takes a core, and takes it back when it leaves", () => {
            vi.useFakeTimers();
            let others = 0, seconds = 0;
            const applied: number[] = [];
            const sample = () => at(seconds, others);
            const { stop } = followFreeCores(2, (n) => applied.push(n), { sample });
            const tick = () => { seconds++; vi.advanceTimersByTime(1000); };
            tick();
            others = 1; tick(); tick();
            others = 0; tick();
            stop();
            expect(applied).toEqual([2, 1, 2]);
        });
    });
});

describe("the default --threads", () => {
    it("follows the free cores unless NEMOREWARD_THREADS fixes it", () => {
        const saved = process.env["NEMOREWARD_THREADS"];
        try {
            delete process.env["NEMOREWARD_THREADS"];
            expect(defaultThreads()).toBe("auto");
            process.env["NEMOREWARD_THREADS"] = "3";
            expect(defaultThreads()).toBe(3);
        } finally {
            if (saved === undefined) delete process.env["NEMOREWARD_THREADS"];
            else process.env["NEMOREWARD_THREADS"] = saved;
        }
    });

    it("says how many threads it may use, in words that agree with the number", async () => {
        const describe = async (threads: number | "auto", fixedThreads = false) => {
            const engine = await RewardEngine.load({
                modelPath: tinyModel, gpu: "cpu", gpuLayers: 0, threads, fixedThreads, contextSize: 512, parallel: 1,
                precise: false, rewardToken: 0, reuse: true,
            }, createLog(new PassThrough(), { quiet: true }));
            try {
                return engine.description;
            } finally {
                await engine.dispose();
            }
        };
        expect(await describe(2)).toMatch(/, up to 2 threads \(fewer while other processes keep cores busy\),/);
        expect(await describe(2, true)).toMatch(/, 2 threads \(fixed\),/);
        expect(await describe("auto")).toMatch(/, up to \d+ threads? \(fewer while other processes keep cores busy\),/);
    });

    it("an explicit --threads N is a ceiling that backs off like auto; --fixed-threads keeps N", () => {
        expect([followsFreeCores({ threads: "auto" }), followsFreeCores({ threads: 4 }), followsFreeCores({ threads: 4, fixedThreads: true }),
            followsFreeCores({ threads: "auto", fixedThreads: true })]).toEqual([true, true, false, true]);
    });
});

describe("changing the thread count", () => {
    it("changes no bit of any reward, so auto threads may change it mid-run", async () => {
        const score = async (threads: string) => {
            const { code, stdout } = await runInProcess(["score", demoConversations, "-m", tinyModel, "--gpu", "cpu", "--threads", threads]);
            expect(code).toBe(0);
            return stdout;
        };
        const one = await score("1");
        expect(one.split("\n").filter((l) => l !== "").length).toBeGreaterThan(1);
        expect(await score("2")).toBe(one);
        expect(await score("3")).toBe(one);
    });
});
