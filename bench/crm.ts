/**
 * `npm run bench:crm -- --contacts 100000`
 *
 * GET /contacts at scale (issue 5). Starts a fresh edge (wrangler dev, local
 * D1 in a temporary directory), seeds one project with N contacts through
 * POST /contacts/import in 10,000-row files (names, emails, CPFs, addresses,
 * statuses, tags and contact groups drawn from fixed distributions with a
 * seeded generator, so every run has the same base), then gives 70% of them
 * message activity (last_message_at, message_count, instance_id) and opts 3%
 * out, straight in SQL (what months of messages would have left). A second
 * project gets N/10 contacts of its own, so every query has to keep to its
 * project.
 *
 * Then, one request at a time after a warm-up, --requests timed requests
 * (client clock, HTTP included) for:
 *   (a) a combined filter: tags + city + has_email + status, sorted by last
 *       activity (the default), over a rotation of tag/city pairs of
 *       different selectivity;
 *   (b) `search`, over a rotation of names, a name fragment, phone digits and
 *       email fragments;
 * then a few other lists for reference (no filter, status, a broad and a
 * narrow tag, a group, no email, sorted by name), and prints p50/p99/max
 * with the SQLite query plan of (a) and (b)
 * (EXPLAIN QUERY PLAN of the very SQL the service builds, through
 * `wrangler d1 execute --local` on the same state). Target: p99 < 50 ms at
 * 100,000 contacts, plans using indexes.
 *
 * Options: --contacts N (100000)  --requests R (300 per query)  --json
 *          --keep (keep the D1 state directory and print it)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { drizzle } from "drizzle-orm/d1";
import { commandLine, int, onInterrupt } from "../test/harness/cli.ts";
import { ProjectClient } from "../test/harness/client.ts";
import { d1Execute, type Edge } from "../test/harness/edge.ts";
import { stats } from "../test/harness/figures.ts";
import { ROOT } from "../test/harness/processes.ts";
import { BENCH_KEY_BUDGET, type Stack, startStack } from "../test/harness/stack.ts";

/**
 * The service's own SQL builder, run here in Node. Loaded by path: the edge's
 * modules are typed for workerd (checked by `tsc -p edge`), not for Node.
 */
type Built = { toSQL(): { sql: string; params: unknown[] } };
const edgeModule = (file: string) => import(path.join(ROOT, file));
const { contactListQueries } = (await edgeModule("edge/db/contact-lists.ts")) as {
  contactListQueries(db: unknown, projectId: string, filter: unknown, sort: string, page: { limit: number; offset: number }): { plan: string; page: Built; total: Built };
};
const { filterOf } = (await edgeModule("edge/services/contact-profiles.ts")) as { filterOf(query: Record<string, unknown>): unknown };
const schema = (await edgeModule("edge/db/schema/index.ts")) as Record<string, unknown>;

const opts = commandLine("usage: npm run bench:crm -- [--contacts 100000] [--requests 300] [--json] [--keep]\n", {
  contacts: { type: "string", default: "100000" },
  requests: { type: "string", default: "300" },
  json: { type: "boolean", default: false },
  keep: { type: "boolean", default: false },
});
const N = int("contacts", opts.contacts!, 1);
const R = int("requests", opts.requests!, 1);
const TARGET_P99_MS = 50;
const IMPORT_ROWS = 10_000;

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const f = (x: number, d = 1) => (Number.isFinite(x) ? x.toFixed(d) : "n/a");

// ------------------------------------------------------------ the base

/** mulberry32: a small seeded generator, so every run seeds the same base. */
function random(seed: number) {
  return () => {
    seed |= 0;
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const FIRST = ["Ana", "Bruno", "Carla", "Daniel", "Eduarda", "Felipe", "Gabriela", "Henrique", "Isabela", "João", "Juliana", "Lucas", "Mariana", "Mateus", "Natália", "Otávio", "Paula", "Rafael", "Sofia", "Thiago", "Vitória", "Wagner", "Yasmin", "Luana", "Pedro", "Beatriz", "Gustavo", "Larissa", "Rodrigo", "Camila", "Diego", "Fernanda", "Leonardo", "Patrícia", "Vinícius", "Aline", "Marcelo", "Renata", "Caio", "Letícia"];
const LAST = ["Silva", "Santos", "Oliveira", "Souza", "Rodrigues", "Ferreira", "Alves", "Pereira", "Lima", "Gomes", "Costa", "Ribeiro", "Martins", "Carvalho", "Almeida", "Lopes", "Soares", "Fernandes", "Vieira", "Barbosa", "Rocha", "Dias", "Nascimento", "Andrade", "Moreira", "Nunes", "Marques", "Machado", "Mendes", "Freitas", "Cardoso", "Ramos", "Gonçalves", "Santana", "Teixeira", "Araújo", "Pinto", "Moura", "Cavalcanti", "Monteiro"];
const DOMAINS = ["gmail.com", "hotmail.com", "outlook.com", "yahoo.com.br", "empresa.com.br"];
/** [city, state, country, weight]: Porto Alegre is 5% of the base. */
const PLACES: [string, string, string, number][] = [
  ["São Paulo", "SP", "BR", 20], ["Rio de Janeiro", "RJ", "BR", 12], ["Belo Horizonte", "MG", "BR", 8], ["Porto Alegre", "RS", "BR", 5],
  ["Curitiba", "PR", "BR", 5], ["Recife", "PE", "BR", 5], ["Salvador", "BA", "BR", 5], ["Fortaleza", "CE", "BR", 5],
  ["Brasília", "DF", "BR", 5], ["Manaus", "AM", "BR", 4], ["Campinas", "SP", "BR", 4], ["Florianópolis", "SC", "BR", 4],
  ["Goiânia", "GO", "BR", 4], ["Belém", "PA", "BR", 4], ["Natal", "RN", "BR", 3], ["Lisboa", "Lisboa", "PT", 3], ["Miami", "FL", "US", 2],
];
/** [key, share of contacts]. */
const TAGS: [string, number][] = [
  ["newsletter", 0.4], ["customer", 0.3], ["cold", 0.2], ["hot-lead", 0.1], ["vip", 0.05],
  ...Array.from({ length: 16 }, (_, i) => [`campaign-${String(i + 1).padStart(2, "0")}`, 0.03] as [string, number]),
];
const GROUPS: [string, number][] = [["smb", 0.3], ["onboarding", 0.1], ["churn-risk", 0.05], ["enterprise", 0.03]];
const DDDS = ["11", "21", "31", "41", "51", "61", "71", "81", "85", "91"];

const fold = (s: string) => s.normalize("NFD").replace(/\p{M}/gu, "").toLowerCase();

function person(i: number, rand: () => number, phonePrefix: string) {
  const pick = <T>(list: T[]) => list[Math.floor(rand() * list.length)]!;
  const first = pick(FIRST);
  const last = pick(LAST);
  let w = rand() * PLACES.reduce((a, p) => a + p[3], 0);
  const place = PLACES.find((p) => (w -= p[3]) < 0) ?? PLACES[0]!;
  const roll = rand();
  return {
    phone: `+55${DDDS[i % DDDS.length]}9${phonePrefix}${String(i).padStart(7, "0")}`,
    name: `${first} ${last}`,
    ...(rand() < 0.6 ? { email: `${fold(first)}.${fold(last)}${i}@${pick(DOMAINS)}` } : {}),
    ...(rand() < 0.5 ? { document: String(10_000_000_000 + i * 7919).slice(-11), document_type: "cpf" } : {}),
    address: { city: place[0], state: place[1], country: place[2], ...(rand() < 0.5 ? { zip: String(Math.floor(rand() * 1e8)).padStart(8, "0") } : {}) },
    status: roll < 0.85 ? "active" : roll < 0.95 ? "pending_validation" : "unreachable",
    tags: TAGS.filter(([, share]) => rand() < share).map(([key]) => key),
    groups: GROUPS.filter(([, share]) => rand() < share).map(([key]) => key),
  };
}

async function seed(api: ProjectClient, count: number, seedValue: number, phonePrefix: string) {
  const rand = random(seedValue);
  for (let start = 0; start < count; start += IMPORT_ROWS) {
    const rows = Array.from({ length: Math.min(IMPORT_ROWS, count - start) }, (_, k) => person(start + k, rand, phonePrefix));
    const t0 = performance.now();
    const res = await api.raw<{ created: number; errors: unknown[] }>("POST", "/contacts/import", { contacts: rows }, 300_000);
    if (res.status !== 200 || res.body.created !== rows.length) throw new Error(`import: ${res.status} ${JSON.stringify(res.body).slice(0, 500)}`);
    log(`  imported ${start + rows.length}/${count} (${f((performance.now() - t0) / 1000, 1)} s for ${rows.length})`);
  }
}

// ------------------------------------------------------------ local D1, beside the running edge

async function sqlJson<T>(edge: Edge, sql: string): Promise<T[][]> {
  const out = await d1Execute(edge, sql, { json: true, timeoutMs: 300_000 });
  return (JSON.parse(out.slice(out.indexOf("["))) as { results: T[] }[]).map((r) => r.results);
}

/** A SQL literal for EXPLAIN (the service binds these; wrangler's --command takes none). */
const literal = (v: unknown) => (typeof v === "number" ? String(v) : v === null ? "NULL" : `'${String(v).replaceAll("'", "''")}'`);

function inline(q: { sql: string; params: unknown[] }) {
  let i = 0;
  return q.sql.replace(/\?/g, () => literal(q.params[i++]));
}

/** The two statements behind a GET /contacts with this query string, exactly as the service builds them. */
function statementsFor(projectId: string, query: string) {
  const params = new URLSearchParams(query);
  const q: Record<string, unknown> = { tags_match: "any", sort: "last_activity", ...Object.fromEntries(params) };
  q.limit = Number(params.get("limit") ?? 200);
  q.offset = Number(params.get("offset") ?? 0);
  // Builds SQL only: never runs a query, so it needs no database.
  const builder = drizzle({} as never, { schema });
  const built = contactListQueries(builder, projectId, filterOf(q), q.sort as string, { limit: q.limit as number, offset: q.offset as number });
  // The `lead` plan's page statement carries the total; its count runs only for a page past the end.
  return { plan: built.plan, statements: built.plan === "lead" ? { page: inline(built.page.toSQL()) } : { page: inline(built.page.toSQL()), total: inline(built.total.toSQL()) } };
}

async function plan(edge: Edge, sql: string): Promise<string[]> {
  const [rows] = await sqlJson<{ id: number; parent: number; detail: string }>(edge, `EXPLAIN QUERY PLAN ${sql}`);
  const depth = new Map<number, number>([[0, 0]]);
  return rows!.map((r) => {
    const d = (depth.get(r.parent) ?? 0) + 1;
    depth.set(r.id, d);
    return `${"  ".repeat(d)}${r.detail}`;
  });
}

// ------------------------------------------------------------ measuring

async function measure(api: ProjectClient, queries: string[], requests = R) {
  const run = async (q: string) => {
    const res = await api.raw<{ total: number; data: unknown[] }>("GET", `/contacts?${q}`);
    if (res.status !== 200) throw new Error(`GET /contacts?${q}: ${res.status} ${JSON.stringify(res.body).slice(0, 300)}`);
    return res;
  };
  for (let i = 0; i < Math.min(20, requests); i++) await run(queries[i % queries.length]!);
  const ms: number[] = [];
  const totals = new Map<string, number>();
  for (let i = 0; i < requests; i++) {
    const q = queries[i % queries.length]!;
    const res = await run(q);
    ms.push(res.ms);
    totals.set(q, res.body.total);
  }
  return { ...stats(ms), totals };
}

const COMBINED = [
  ["hot-lead", "Porto Alegre"],
  ["vip", "São Paulo"],
  ["customer", "Recife"],
  ["newsletter", "Rio de Janeiro"],
  ["campaign-07", "Curitiba"],
].map(([tag, city]) => `tags=${tag}&city=${encodeURIComponent(city!)}&has_email=true&status=active`);

const SEARCHES = ["silva", "mariana souza", "vinicius", "ana", "5191000", "+55 41 91000-0123", "gmail", "oliveira12", "12345"].map(
  (s) => `search=${encodeURIComponent(s)}`,
);

const OTHERS = ["", "status=active", "tags=newsletter", "tags=vip", "groups=onboarding", "has_email=false", "sort=name", "city=S%C3%A3o%20Paulo&sort=name", "tags=hot-lead&status=active"];

let stack: Stack | undefined;
const stateDir = mkdtempSync(path.join(tmpdir(), "pombo-bench-crm-"));
async function cleanup() {
  await stack?.stop();
  if (!opts.keep) rmSync(stateDir, { recursive: true, force: true });
}
onInterrupt(log, cleanup);

try {
  log(`N=${N} contacts, ${R} requests per query; D1 state in ${stateDir}`);
  // No numbers: an edge and two projects.
  stack = await startStack("bench-crm", 0, { persistTo: stateDir, keyBudget: BENCH_KEY_BUDGET });
  const { edge, admin, api } = stack;
  log(`logs in ${stack.logDir}`);
  const neighbour = new ProjectClient(edge.url, (await admin.createProject("bench-crm-neighbour")).api_key);

  log(`seeding ${N} contacts through POST /contacts/import`);
  const t0 = performance.now();
  await seed(api, N, 42, "1");
  await seed(neighbour, Math.max(1, Math.floor(N / 10)), 7, "2");
  log("activity: 70% messaged in the last 90 days across 5 numbers, 3% opted out");
  await sqlJson(
    edge,
    `UPDATE contacts SET last_message_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now', '-' || (abs(random()) % 7776000) || ' seconds'),
       message_count = 1 + abs(random()) % 80, instance_id = 'bench-number-' || (abs(random()) % 5)
     WHERE abs(random()) % 100 < 70;
     UPDATE contacts SET status = 'opted_out', opted_out_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now') WHERE status = 'active' AND abs(random()) % 100 < 3;`,
  );
  const seedSeconds = (performance.now() - t0) / 1000;
  const [[count]] = (await sqlJson<{ n: number }>(edge, `SELECT count(*) AS n FROM contacts WHERE project_id = '${stack.projectId}'`)) as [[{ n: number }]];
  log(`seeded ${count!.n} contacts in ${f(seedSeconds)} s`);

  log(`measuring (a) combined filter, ${R} requests`);
  const combined = await measure(api, COMBINED);
  log(`measuring (b) search, ${R} requests`);
  const search = await measure(api, SEARCHES);

  log(`measuring other lists for reference, ${Math.ceil(R / 3)} requests each`);
  const others: [string, Awaited<ReturnType<typeof measure>>][] = [];
  for (const q of OTHERS) others.push([q, await measure(api, [q], Math.ceil(R / 3))]);

  const printed: { title: string; plan: string; statements: { name: string; sql: string; plan: string[] }[] }[] = [];
  for (const [title, q] of [["(a)", COMBINED[0]!], ["(b)", SEARCHES[0]!]] as const) {
    const built = statementsFor(stack.projectId, q);
    const statements = [];
    for (const [name, sql] of Object.entries(built.statements)) statements.push({ name, sql: sql!, plan: await plan(edge, sql!) });
    printed.push({ title: `${title} ${decodeURIComponent(q)}`, plan: built.plan, statements });
  }

  const out = (line = "") => process.stdout.write(`${line}\n`);
  out(`GET /contacts over ${count!.n} contacts (plus ${Math.floor(N / 10)} in another project), ${R} sequential requests each, client clock (HTTP through wrangler dev included):`);
  for (const [name, s, queries] of [["(a) combined filter", combined, COMBINED], ["(b) search", search, SEARCHES]] as const) {
    out(`${name}: p50 ${f(s.p50)} ms  p99 ${f(s.p99)} ms  max ${f(s.max)} ms  mean ${f(s.mean)} ms  ${s.p99 < TARGET_P99_MS ? "OK" : "OVER"} (target p99 < ${TARGET_P99_MS} ms)`);
    for (const q of queries) out(`    ${decodeURIComponent(q)}  -> total ${s.totals.get(q)}`);
  }
  out("other lists, for reference (no target):");
  for (const [q, s] of others) out(`    ${decodeURIComponent(q).padEnd(40)} p50 ${f(s.p50)} ms  p99 ${f(s.p99)} ms  (total ${s.totals.get(q)})`);
  for (const p of printed) {
    out();
    out(`query plan, ${p.title} (${p.plan} plan):`);
    for (const s of p.statements) {
      out(`  ${s.name}: ${s.sql}`);
      for (const line of s.plan) out(`  ${line}`);
    }
  }
  if (opts.json) {
    out(
      JSON.stringify({
        contacts: count!.n,
        requests: R,
        seed_seconds: Number(f(seedSeconds, 1)),
        combined_ms: { p50: combined.p50, p99: combined.p99, max: combined.max },
        search_ms: { p50: search.p50, p99: search.p99, max: search.max },
      }),
    );
  }
  if (opts.keep) log(`D1 state kept in ${stateDir}`);
  if (combined.p99 >= TARGET_P99_MS || search.p99 >= TARGET_P99_MS) process.exitCode = 1;
} catch (err) {
  log(`failed: ${(err as Error).stack ?? err}`);
  if (stack) log(stack.diagnostics());
  process.exitCode = 1;
} finally {
  await cleanup();
}
