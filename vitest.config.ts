import { defineConfig } from "vitest/config";

export default defineConfig({
  // tsconfig.json "paths": `tollgate/constructs` and `tollgate/policies` resolve to the sources.
  resolve: { tsconfigPaths: true },
  test: {
    include: ["test/**/*.test.ts"],
    environment: "node",
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // End-to-end suites start real servers on ephemeral ports; two workers keep a 2-core machine responsive.
    pool: "forks",
    maxWorkers: 2,
  },
});
