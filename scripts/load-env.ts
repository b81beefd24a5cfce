/**
 * Loads `.env`, or `.env.example` when there is no `.env`, into process.env.
 * Variables already in the environment win. Used by `npm start`; also usable
 * as a preload for any entry point: `node --import ./scripts/load-env.ts fleet/main.ts`.
 */
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseEnv } from "node:util";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

/** Returns the file name it loaded, or null when there was none. */
export function loadDotEnv(root = ROOT): string | null {
  for (const name of [".env", ".env.example"]) {
    const file = path.join(root, name);
    if (!existsSync(file)) continue;
    const values = parseEnv(readFileSync(file, "utf8"));
    for (const [key, value] of Object.entries(values)) {
      if (process.env[key] === undefined) process.env[key] = value;
    }
    return name;
  }
  return null;
}

export const loadedEnvFile = loadDotEnv();
