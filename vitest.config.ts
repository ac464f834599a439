import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // tests load real models and spawn the CLI; on a 2-core CI machine several run at once
        testTimeout: 120_000,
        hookTimeout: 120_000,
        // files run in parallel, each spawning CLIs: one llama.cpp thread per run so that they cannot oversubscribe the cores
        env: { NEMOREWARD_THREADS: "1" },
    },
});
