/** Column builders every table uses. */
import { sql } from "drizzle-orm";
import { text } from "drizzle-orm/sqlite-core";

/** A zod enum's values as the non-empty tuple drizzle's `enum` wants: one list for both. */
export const enumValues = <T extends string>(e: { options: readonly T[] }) => e.options as [T, ...T[]];

export const timestamp = (name: string) =>
  text(name)
    .notNull()
    .default(sql`(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`);

/** When a row was created and last changed: the last two columns of most tables. */
export const createdAndUpdated = () => ({ created_at: timestamp("created_at"), updated_at: timestamp("updated_at") });
