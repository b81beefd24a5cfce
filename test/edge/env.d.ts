import type { Env } from "../../edge/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends import("../../edge/env.ts").Env {
      TEST_MIGRATIONS: import("cloudflare:test").D1Migration[];
    }
  }
}
export type { Env };
