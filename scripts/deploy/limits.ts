/**
 * Workers' size limits, checked before anything is uploaded
 * (https://developers.cloudflare.com/workers/platform/limits/):
 *
 * - the Worker, gzip-compressed: 3 MiB on the Free plan, 10 MiB on Paid. Over
 *   10 MiB fails; over 3 MiB is reported as needing Workers Paid;
 * - static assets: 20,000 files per version (the Free plan's number; Paid allows
 *   more) and 25 MiB per file.
 *
 * Start-up time (1 s to evaluate the Worker's global scope) cannot be measured
 * without Cloudflare: it is checked at upload, and `wrangler deploy` fails
 * saying so.
 */
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

const MiB = 1024 * 1024;
export const WORKER_LIMIT_FREE = 3 * MiB;
export const WORKER_LIMIT_PAID = 10 * MiB;
export const ASSET_FILE_LIMIT = 25 * MiB;
export const ASSET_COUNT_LIMIT = 20_000;

export const mib = (bytes: number) => `${(bytes / MiB).toFixed(2)} MiB`;

export type BundleSize = { bytes: number; gzipBytes: number; problems: string[]; notes: string[] };

/**
 * The Worker's size as wrangler measured it while bundling (`Total Upload: ... / gzip: ...`, the
 * figure its own upload check uses), against the plans' limits.
 */
export function checkBundle(wranglerOutput: string): BundleSize {
  const said = /Total Upload: ([\d.]+) KiB \/ gzip: ([\d.]+) KiB/.exec(wranglerOutput);
  if (!said) return { bytes: 0, gzipBytes: 0, problems: ["wrangler did not report the Worker's size (no `Total Upload:` line)"], notes: [] };
  const bytes = Number(said[1]) * 1024;
  const gzipBytes = Number(said[2]) * 1024;
  const problems: string[] = [];
  const notes: string[] = [];
  if (gzipBytes > WORKER_LIMIT_PAID) problems.push(`the Worker is ${mib(gzipBytes)} compressed, over Workers' ${mib(WORKER_LIMIT_PAID)} limit (Paid plan)`);
  else if (gzipBytes > WORKER_LIMIT_FREE) notes.push(`the Worker is ${mib(gzipBytes)} compressed: over the Free plan's ${mib(WORKER_LIMIT_FREE)}, so it needs Workers Paid`);
  return { bytes, gzipBytes, problems, notes };
}

export type AssetsSize = { files: number; bytes: number; largest: { file: string; bytes: number } | null; problems: string[] };

export function checkAssets(dir: string): AssetsSize {
  const files = readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => {
      const full = path.join(entry.parentPath, entry.name);
      return { file: path.relative(dir, full), bytes: statSync(full).size };
    });
  const problems: string[] = [];
  if (!files.length) problems.push(`${dir} is empty: the console and /docs would not be served`);
  if (files.length > ASSET_COUNT_LIMIT) problems.push(`${files.length} asset files, over the ${ASSET_COUNT_LIMIT} per version limit`);
  for (const f of files) if (f.bytes > ASSET_FILE_LIMIT) problems.push(`asset ${f.file} is ${mib(f.bytes)}, over the ${mib(ASSET_FILE_LIMIT)} per file limit`);
  const largest = files.reduce<AssetsSize["largest"]>((top, f) => (!top || f.bytes > top.bytes ? f : top), null);
  return { files: files.length, bytes: files.reduce((sum, f) => sum + f.bytes, 0), largest, problems };
}
