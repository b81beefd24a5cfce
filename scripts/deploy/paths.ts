/** Where `npm run deploy` reads and writes. */
import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..", "..");
/** The committed config: bindings and names, no account's ids. */
export const SOURCE_CONFIG = path.join(ROOT, "wrangler.toml");
/** Generated on every deploy from SOURCE_CONFIG plus the account's ids; what wrangler deploys. Not committed (.pombo/). */
export const DEPLOY_DIR = path.join(ROOT, ".pombo", "deploy");
export const DEPLOY_CONFIG = path.join(DEPLOY_DIR, "wrangler.jsonc");
/** The Worker bundle `wrangler deploy --dry-run --outdir` writes, for the size check. */
export const BUNDLE_DIR = path.join(ROOT, ".build", "worker");
