import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // tests load real models and spawn the CLI; on a 2-core CI machine several run at once
        testTimeout: 120_000,
        hookTimeout: 120_000,
        // two files at a time (vitest's default leaves one of two cores idle): the suite is mostly runs of the CLI,
        // each on one llama.cpp thread, so that they cannot oversubscribe the cores
        maxWorkers: 2,
        env: { NEMOREWARD_THREADS: "1" },
    },
});
