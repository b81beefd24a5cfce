import type { D1Migration } from "cloudflare:test";
import type { Env as PomboEnv } from "../../edge/env.ts";

declare global {
  namespace Cloudflare {
    interface Env extends PomboEnv {
      TEST_MIGRATIONS: D1Migration[];
    }
    interface GlobalProps {
      mainModule: typeof import("../../edge/index.ts");
    }
  }
}
