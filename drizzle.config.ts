import { defineConfig } from "drizzle-kit";

// drizzle-kit 0.31 with no driver writes flat NNNN_name.sql files, which is
// what wrangler's `migrations_dir` and `readD1Migrations` expect.
export default defineConfig({
  dialect: "sqlite",
  schema: "./edge/db/schema/index.ts",
  out: "./migrations",
});
