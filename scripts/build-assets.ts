/**
 * Builds what the Worker serves as static assets (wrangler.toml `[assets]`):
 *
 *   .build/assets/console/   the operator console (console/src, bundled by esbuild)
 *   .build/assets/docs/      the API reference's UI (Scalar's standalone bundle)
 *
 * Nothing on those pages is fetched from a CDN: both work with no internet.
 * Runs after every `npm install` (postinstall), before `npm start` and
 * before `npm test`, so there is no manual step. `--watch` rebuilds the
 * console on change (for working on it next to `npm start`).
 */
import { build, context, type BuildOptions } from "esbuild";
import { copyFileSync, mkdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
export const ASSETS_DIR = path.join(ROOT, ".build", "assets");
const CONSOLE_OUT = path.join(ASSETS_DIR, "console");
const DOCS_OUT = path.join(ASSETS_DIR, "docs");
const require = createRequire(import.meta.url);

const consoleBuild: BuildOptions = {
  entryPoints: [path.join(ROOT, "console", "src", "main.tsx"), path.join(ROOT, "console", "src", "style.css")],
  outdir: CONSOLE_OUT,
  bundle: true,
  format: "esm",
  target: "es2022",
  minify: true,
  sourcemap: "linked",
  jsx: "automatic",
  jsxImportSource: "preact",
  // Pico's stylesheet is imported by style.css; fonts are the system's.
  loader: { ".woff2": "file" },
  logLevel: "warning",
  legalComments: "linked",
};

function copyStatic() {
  mkdirSync(CONSOLE_OUT, { recursive: true });
  copyFileSync(path.join(ROOT, "console", "index.html"), path.join(CONSOLE_OUT, "index.html"));
  mkdirSync(DOCS_OUT, { recursive: true });
  // The package's exports map hides its browser bundle; it sits at a fixed place in the package.
  const scalar = path.join(path.dirname(require.resolve("@scalar/api-reference")), "browser", "standalone.js");
  copyFileSync(scalar, path.join(DOCS_OUT, "scalar.js"));
}

export async function buildAssets() {
  rmSync(ASSETS_DIR, { recursive: true, force: true });
  copyStatic();
  await build(consoleBuild);
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const started = Date.now();
  if (process.argv.includes("--watch")) {
    copyStatic();
    const ctx = await context(consoleBuild);
    await ctx.watch();
    console.log(`console: watching console/src, writing ${path.relative(ROOT, CONSOLE_OUT)}`);
  } else {
    await buildAssets();
    console.log(`assets: console and docs built into ${path.relative(ROOT, ASSETS_DIR)} in ${Date.now() - started} ms`);
  }
}
