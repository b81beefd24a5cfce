/**
 * One owner per table (README, "Who writes what"): a function in edge/db/
 * that writes is imported only by the module that owns what it writes, so
 * no other module writes those rows itself. Reads go anywhere. The source
 * is read as text: a new writer, or a new module importing one, fails here
 * until OWNERS (and the README) say who owns it.
 */
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(import.meta.dirname, "../..");
const EDGE = path.join(ROOT, "edge");

/** Each storage module's writers are imported by its owner, or by the module named for one writer. */
const OWNERS: Record<string, { owner: string; except?: Record<string, string> }> = {
  "api-keys.ts": { owner: "services/projects.ts" },
  "projects.ts": { owner: "services/projects.ts" },
  "settings.ts": { owner: "services/settings.ts", except: { advanceProjectCursor: "services/selector.ts" } },
  // A number's state is its Durable Object's, mirrored into its row.
  "instances.ts": { owner: "services/instances.ts", except: { updateInstanceStatus: "objects/instance-status.ts" } },
  "pools.ts": { owner: "services/pools.ts", except: { advancePoolCursor: "services/selector.ts" } },
  "recipients.ts": { owner: "services/recipients.ts" },
  "message-writes.ts": { owner: "services/message-status.ts" },
  "media.ts": { owner: "services/media-store.ts" },
  "media-expiry.ts": { owner: "services/media-retention.ts" },
  "contact-writes.ts": { owner: "services/contact-store.ts", except: { setContactStatus: "services/contact-status.ts", setContactAvatar: "services/contact-avatars.ts" } },
  "suppressions.ts": { owner: "services/contact-status.ts" },
  "contact-events.ts": { owner: "services/contact-events.ts" },
  "tags-and-contact-groups.ts": { owner: "services/tags-and-contact-groups.ts" },
  "conversations.ts": { owner: "services/conversations.ts" },
  "lid-map.ts": { owner: "services/identity.ts" },
  "chat-numbers.ts": { owner: "services/chat-numbers.ts" },
  // Counters: one writer each, in the batches of the facts they count.
  "metrics.ts": { owner: "services/metrics.ts" },
  "stream-tokens.ts": { owner: "services/stream-tokens.ts" },
  "webhooks.ts": {
    owner: "services/webhooks.ts",
    except: { insertDeliveries: "objects/hub-deliveries.ts", recordAttempts: "services/webhook-delivery.ts", markDead: "services/webhook-delivery.ts" },
  },
};

const sourceFiles = (dir: string): string[] =>
  readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
    e.isDirectory() ? sourceFiles(path.join(dir, e.name)) : e.name.endsWith(".ts") ? [path.join(dir, e.name)] : [],
  );
const read = (file: string) => readFileSync(file, "utf8");
const rel = (file: string) => path.relative(EDGE, file).split(path.sep).join("/");

/** A storage module's top-level declarations: name -> its text. */
function declarations(text: string): Map<string, string> {
  const out = new Map<string, string>();
  const starts = [...text.matchAll(/^(?:export )?(?:async )?(?:function|const) (\w+)/gm)];
  starts.forEach((m, i) => out.set(m[1]!, text.slice(m.index, starts[i + 1]?.index ?? text.length)));
  return out;
}

/** The exported functions of a storage module that write: an INSERT, UPDATE or DELETE, or a call to one that does. */
function writersOf(text: string): Set<string> {
  const decls = declarations(text.replace(/\/\*[\s\S]*?\*\//g, "").replace(/^\s*\/\/.*$/gm, ""));
  const writes = (body: string) => /\.(insert|update|delete)\(|\b(INSERT|UPDATE|DELETE)\b/.test(body);
  const writers = new Set([...decls].filter(([, body]) => writes(body)).map(([name]) => name));
  for (let grew = true; grew; ) {
    grew = false;
    for (const [name, body] of decls) {
      if (!writers.has(name) && [...writers].some((w) => new RegExp(`\\b${w}\\(`).test(body))) {
        writers.add(name);
        grew = true;
      }
    }
  }
  return new Set([...writers].filter((name) => new RegExp(`^export (async )?(function|const) ${name}\\b`, "m").test(text)));
}

/** What each module outside edge/db/ imports from storage modules, as values: "contacts.ts" -> names. */
function storageImports(file: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const m of read(file).matchAll(/^import (type )?\{([^}]*)\} from "([^"]+)";/gm)) {
    if (m[1]) continue;
    const target = path.resolve(path.dirname(file), m[3]!);
    if (path.dirname(target) !== path.join(EDGE, "db")) continue;
    const names = m[2]!.split(",").map((s) => s.trim()).filter((s) => s && !s.startsWith("type "));
    out.set(path.basename(target), names.map((s) => s.split(/\s+as\s+/)[0]!));
  }
  return out;
}

const storage = readdirSync(path.join(EDGE, "db")).filter((f) => f.endsWith(".ts"));
const writers = new Map(storage.map((f) => [f, writersOf(read(path.join(EDGE, "db", f)))]));
const modules = sourceFiles(EDGE).filter((f) => !rel(f).startsWith("db/"));

describe("who writes what", () => {
  it("every storage module that writes has an owner, and every owner named is a module of the edge", () => {
    const unowned = [...writers].filter(([file, names]) => names.size > 0 && !OWNERS[file]).map(([file]) => file);
    expect(unowned).toEqual([]);
    const named = Object.values(OWNERS).flatMap(({ owner, except }) => [owner, ...Object.values(except ?? {})]);
    const known = new Set(modules.map(rel));
    expect(named.filter((m) => !known.has(m))).toEqual([]);
    const exceptions = Object.entries(OWNERS).flatMap(([file, { except }]) => Object.keys(except ?? {}).map((name) => [file, name] as const));
    expect(exceptions.filter(([file, name]) => !writers.get(file)?.has(name))).toEqual([]);
  });

  it("a storage module's writers are imported by their owner alone", () => {
    const strays: string[] = [];
    for (const file of modules) {
      for (const [target, names] of storageImports(file)) {
        const rule = OWNERS[target];
        for (const name of names) {
          if (!writers.get(target)?.has(name)) continue;
          const owner = rule?.except?.[name] ?? rule?.owner;
          if (rel(file) !== owner) strays.push(`${rel(file)} writes through db/${target} ${name} (owner: ${owner ?? "none"})`);
        }
      }
    }
    expect(strays).toEqual([]);
  });

  it("README's table of who writes what names every table of the schema", () => {
    const tables = sourceFiles(path.join(EDGE, "db", "schema")).flatMap((f) => [...read(f).matchAll(/sqliteTable\(\s*"(\w+)"/g)].map((m) => m[1]!));
    const dictionaries = [...read(path.join(EDGE, "db", "schema", "contacts.ts")).matchAll(/= dictionary\("(\w+)"\)/g)].map((m) => m[1]!);
    const readme = read(path.join(ROOT, "README.md"));
    const section = readme.slice(readme.indexOf("### Who writes what"), readme.indexOf("\n## ", readme.indexOf("### Who writes what")));
    expect(section.length).toBeGreaterThan(0);
    expect([...tables, ...dictionaries].filter((t) => !section.includes(`\`${t}\``))).toEqual([]);
  });
});
