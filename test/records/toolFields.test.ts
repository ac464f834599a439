import { describe, expect, it } from "vitest";
import { collidingField, named, ownNames, recordFits, valueFits, type Layout } from "../../src/records/toolFields.js";
import { rewardLayout } from "../../src/conversation/scoringTask.js";

const layout: Layout = [...rewardLayout("single", "reward"), named("rank"), named("z"), named("error")];
const own = (names: string[], fits = (_: string) => true, always: string[] = []) => {
    const result = ownNames(names, layout, { fits: (name) => fits(name), always });
    return { rename: Object.fromEntries(result.rename), ours: result.ours };
};

describe("the own-name rule: where the tool's fields go beside the row's own", () => {
    it("a row the tool never scored keeps every field; the tool's go under nemoreward_NAME when the name is taken", () => {
        expect(own(["prompt", "response", "error", "z"])).toEqual({ rename: { reward: "reward", rank: "rank", z: "nemoreward_z", error: "nemoreward_error" }, ours: [] });
        expect(own(["error", "nemoreward_error"])).toMatchObject({ rename: { error: "nemoreward_nemoreward_error" } });
    });

    it("a row the tool scored (its reward field, then only the tool's fields) gets new values in place", () => {
        expect(own(["prompt", "reward", "rank", "error"])).toEqual({ rename: { reward: "reward", rank: "rank", z: "z", error: "error" }, ours: ["reward", "rank", "error"] });
        expect(own(["prompt", "error", "reward", "nemoreward_error"])).toEqual(
            { rename: { reward: "reward", rank: "rank", z: "z", error: "nemoreward_error" }, ours: ["reward", "nemoreward_error"] });
    });

    it("a field after the reward field that is not the tool's, or a value of another kind, makes the reward field the user's", () => {
        expect(own(["prompt", "reward", "note"]).ours).toEqual([]);
        expect(own(["prompt", "reward", "error"], (name) => name !== "reward")).toMatchObject({ rename: { reward: "nemoreward_reward", error: "nemoreward_error" }, ours: [] });
    });

    it("the user's reward beside the tool's nemoreward_reward: the tool's part begins at its own field", () => {
        expect(own(["reward", "nemoreward_reward", "error"], (name) => name !== "reward", ["error"]))
            .toEqual({ rename: { reward: "nemoreward_reward", rank: "rank", z: "z", error: "error" }, ours: ["nemoreward_reward", "error"] });
    });

    it("a key a JSON record gives twice is the user's: the tool cannot tell which of its values would be its own", () => {
        expect(own(["prompt", "reward", "reward"])).toMatchObject({ rename: { reward: "nemoreward_reward" }, ours: [] });
        expect(own(["prompt", "reward", "error", "error"])).toMatchObject({ rename: { reward: "nemoreward_reward", error: "nemoreward_error" }, ours: [] });
        // a repeat before the tool's part leaves it the tool's
        expect(own(["label", "label", "reward", "error"]).ours).toEqual(["reward", "error"]);
    });

    it("a format that always gets `error` (CSV, TSV, Parquet) takes a row without it for the user's", () => {
        expect(own(["prompt", "reward"], () => true, ["error"])).toMatchObject({ rename: { reward: "nemoreward_reward" }, ours: [] });
        expect(own(["prompt", "reward", "error"], () => true, ["error"]).ours).toEqual(["reward", "error"]);
    });

    it("JSON values that hold what the tool writes: a reward is a number or null, a rank an integer, an error a string", () => {
        expect([valueFits(-1.5, "double"), valueFits(null, "double"), valueFits("good", "double"), valueFits(2, "integer"), valueFits(2.5, "integer"),
            valueFits([1, null], "doubles"), valueFits(["a"], "doubles")]).toEqual([true, true, false, true, false, true, false]);
    });

    it("--field names that would collide with another field of the tool's", () => {
        expect(["error", "margin", "rank", "z", "best", "preferred", "dropped", "rendered", "n_tokens"].map(collidingField)).toEqual(
            ["error", "margin", "rank", "z", "best", "preferred", "dropped", "rendered", "n_tokens"]);
        expect(collidingField("line")).toBe("line"); // a row of no record is written {"line": N, ...}
        expect([collidingField("reward"), collidingField("score"), collidingField("reward_1")]).toEqual([undefined, undefined, undefined]);
    });
});

describe("whole numbers where the reward goes are someone's labels (hostile report 4, #1)", () => {
    it("a best-of-N row's list of whole numbers, in JSON or a CSV cell, is the user's `rewards`, not an earlier run's", () => {
        expect(recordFits({ rewards: [3, 1, 2] }, "rewards", false)("rewards", "doubles")).toBe(false);
        expect(recordFits({ rewards: "[3,1,2]" }, "rewards", true)("rewards", "doubles")).toBe(false);
        expect(recordFits({ rewards: [-1.94, -1.97] }, "rewards", false)("rewards", "doubles")).toBe(true);
        expect(recordFits({ rewards: "[-1.94,-1.97]" }, "rewards", true)("rewards", "doubles")).toBe(true);
        expect(recordFits({ reward: "10" }, "reward", true)("reward", "double")).toBe(false);
        expect(recordFits({ reward: "-1.5" }, "reward", true)("reward", "double")).toBe(true);
    });
});
