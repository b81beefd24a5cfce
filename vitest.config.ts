import { defineConfig } from "vitest/config";

// Three suites: the edge inside workerd (real D1 and Durable Objects), the
// fleet's units in Node, and end-to-end runs of wrangler dev + fleet
// processes + real WhatsApp-protocol peers on loopback.
export default defineConfig({
  test: {
    projects: [
      "test/edge/vitest.config.ts",
      { test: { name: "fleet", include: ["test/fleet/**/*.test.ts", "test/shared/**/*.test.ts"], environment: "node", testTimeout: 30_000 } },
      {
        test: {
          name: "e2e",
          include: ["test/e2e/**/*.test.ts"],
          environment: "node",
          testTimeout: 180_000,
          hookTimeout: 120_000,
          // Each file starts its own edge, fleets and peers: one at a time keeps 2 cores sane.
          fileParallelism: false,
        },
      },
    ],
  },
});
