import { fileURLToPath } from "node:url";
import { cloudflareTest, readD1Migrations } from "@cloudflare/vitest-plugin";
import { defineProject } from "vitest/config";

const root = (path: string) => fileURLToPath(new URL(`../../${path}`, import.meta.url));

export default defineProject(async () => ({
  plugins: [
    cloudflareTest({
      wrangler: { configPath: root("wrangler.toml") },
      miniflare: {
        bindings: {
          POMBO_ADMIN_TOKEN: "test-admin-token",
          POMBO_FLEET_TOKEN: "test-fleet-token",
          POMBO_DATA_KEY: "test-data-key",
          TEST_MIGRATIONS: await readD1Migrations(root("migrations")),
        },
      },
    }),
  ],
  test: {
    name: "edge",
    include: [root("test/edge/**/*.test.ts")],
    setupFiles: [root("test/edge/setup.ts")],
  },
}));
