/**
 * The fleet image's recipe (`Dockerfile`), read so that a test installs and
 * runs the fleet exactly as the image does where no container engine is:
 * the files the build copies from the repo, the commands of the stage that
 * installs them, and the final stage's ENV, USER, CMD and HEALTHCHECK.
 * Only what the Dockerfile uses is understood; anything else throws, so the
 * recipe and this reader cannot drift apart silently.
 */
import { execFile } from "node:child_process";
import { cpSync, globSync, mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { ROOT } from "./processes.ts";

type Stage = { name: string; runs: string[]; copies: { sources: string[]; dest: string }[]; fromStages: string[] };

export type ImageRecipe = {
  /** Build-context sources (globs allowed) and where each stage puts them, relative to its WORKDIR. */
  copies: { sources: string[]; dest: string }[];
  /** RUN lines of the stages the final image copies from (`COPY --from=`), in order: the install. */
  installRuns: string[];
  /** The final stage's ENV. */
  env: Record<string, string>;
  user: string | null;
  /** CMD, exec form. */
  cmd: string[];
  /** HEALTHCHECK's CMD, exec form. */
  healthcheck: string[];
};

export const DOCKERFILE = path.join(ROOT, "Dockerfile");

export function readImageRecipe(file = DOCKERFILE): ImageRecipe {
  const stages: Stage[] = [];
  // The final stage's: each FROM starts afresh.
  let env: Record<string, string> = {};
  let user: string | null = null;
  let cmd: string[] = [];
  let healthcheck: string[] = [];
  for (const raw of readFileSync(file, "utf8").split("\n")) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    if (line.endsWith("\\")) throw new Error(`Dockerfile: keep each instruction on one line (${line})`);
    const [instruction, ...rest] = line.split(/\s+/);
    const args = line.slice(instruction!.length).trim();
    const stage = stages.at(-1);
    if (instruction !== "FROM" && !stage) throw new Error(`Dockerfile: ${instruction} before FROM`);
    switch (instruction) {
      case "FROM":
        stages.push({ name: rest[2] ?? `stage-${stages.length}`, runs: [], copies: [], fromStages: [] });
        env = {};
        user = null;
        break;
      case "WORKDIR":
        if (args !== "/app") throw new Error(`Dockerfile: every stage works in /app (the install copies node_modules to the same place), got ${args}`);
        break;
      case "RUN":
        stage!.runs.push(args);
        break;
      case "COPY": {
        const flags = rest.filter((a) => a.startsWith("--"));
        const paths = rest.filter((a) => !a.startsWith("--"));
        const from = flags.find((f) => f.startsWith("--from="))?.slice("--from=".length);
        if (from) stage!.fromStages.push(from);
        else stage!.copies.push({ sources: paths.slice(0, -1), dest: paths.at(-1)! });
        break;
      }
      case "ENV": {
        const eq = args.indexOf("=");
        if (eq < 0 || /\s/.test(args)) throw new Error(`Dockerfile: one ENV name=value a line, unquoted (${line})`);
        env[args.slice(0, eq)] = args.slice(eq + 1);
        break;
      }
      case "USER":
        user = args;
        break;
      case "CMD":
        cmd = JSON.parse(args) as string[];
        break;
      case "HEALTHCHECK":
        healthcheck = JSON.parse(args.slice(args.indexOf("CMD ") + 4)) as string[];
        break;
      case "VOLUME":
      case "EXPOSE":
      case "STOPSIGNAL":
        break;
      default:
        throw new Error(`Dockerfile: ${instruction} is not understood by ${path.basename(import.meta.filename)}`);
    }
  }
  const final = stages.at(-1)!;
  const installStages = stages.filter((s) => final.fromStages.includes(s.name));
  return {
    copies: stages.flatMap((s) => s.copies),
    installRuns: installStages.flatMap((s) => s.runs),
    env,
    user,
    cmd,
    healthcheck,
  };
}

/**
 * Installs the fleet into `dir` as the image's build does: every file the
 * Dockerfile copies from the repo (all stages share one WORKDIR, as the image
 * copies node_modules from the install stage to the same place), then the
 * install stage's RUN lines in `dir`, with npm preferring its local cache.
 * Returns their output.
 */
export async function installLikeImage(recipe: ImageRecipe, dir: string): Promise<string> {
  for (const { sources, dest } of recipe.copies) {
    const files = sources.flatMap((s) => {
      const found = globSync(s, { cwd: ROOT });
      if (found.length === 0) throw new Error(`Dockerfile copies ${s}, which matches nothing in the repo`);
      return found;
    });
    const intoFolder = dest.endsWith("/") || files.length > 1;
    for (const file of files) {
      const target = path.join(dir, dest, intoFolder ? path.basename(file) : "");
      mkdirSync(path.dirname(target), { recursive: true });
      cpSync(path.join(ROOT, file), target, { recursive: true });
    }
  }
  let output = "";
  for (const run of recipe.installRuns) {
    const { stdout, stderr } = await promisify(execFile)("sh", ["-c", run], {
      cwd: dir,
      env: { ...process.env, npm_config_prefer_offline: "true", npm_config_update_notifier: "false" },
      maxBuffer: 16 * 1024 * 1024,
    });
    output += `$ ${run}\n${stdout}${stderr}`;
  }
  return output;
}
