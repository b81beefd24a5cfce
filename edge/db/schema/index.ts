/**
 * The D1 schema, one file per area. drizzle-kit generates `migrations/`
 * from this index: change a table in its file, then `npm run db:generate`.
 */
export * from "./projects.ts";
export * from "./messages.ts";
export * from "./contacts.ts";
export * from "./webhooks.ts";
export * from "./metrics.ts";
