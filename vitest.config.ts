import { defineConfig } from "vitest/config";

export default defineConfig({
    test: {
        include: ["test/**/*.test.ts"],
        // tests load real models and spawn the CLI; on a 2-core CI machine several run at once
        testTimeout: 120_000,
        hookTimeout: 120_000,
    },
});
