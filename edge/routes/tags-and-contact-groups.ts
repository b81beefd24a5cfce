/**
 * /tags and /contact-groups (reference 001): the project's two CRM
 * dictionaries, one set of routes each, with live contact counts (the
 * services call both "entries"). Contact groups are CRM segments; WhatsApp
 * groups live at /groups (whatsapp-groups.ts), and WhatsApp's own labels
 * are not supported (not-supported.ts).
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { IdParam, creating, errorsOf, json, jsonBody, listing, operations } from "../schemas.ts";
import { Color, type EntryKind, EntryKey, changeEntry, createEntry, entriesPage, removeEntry } from "../services/tags-and-contact-groups.ts";

const Name = z.string().trim().min(1).max(100).openapi({ example: "Hot lead" });

const EntryInput = z
  .object({
    key: EntryKey,
    name: Name.optional().openapi({ description: "Defaults to the key." }),
    color: Color.nullish(),
  })
  .strict();

const EntryChange = z.object({ name: Name, color: Color.nullable() }).partial().strict();

const EntrySchema = (schemaName: string) =>
  z
    .object({
      id: z.string(),
      key: z.string().openapi({ example: "hot-lead", description: "The stable slug contacts and sends use." }),
      name: z.string(),
      color: z.string().nullable().openapi({ example: "#22c55e" }),
      count: z.number().int().openapi({ description: "Contacts linked to it now." }),
      created_at: z.string(),
      updated_at: z.string(),
    })
    .openapi(schemaName);

function dictionary(kind: EntryKind, words: { one: string; tag: string; schema: string; note?: string }) {
  const route = operations([words.tag]);
  const Entry = EntrySchema(words.schema);
  return new OpenAPIHono<AppEnv>()
    .openapi(
      route.get("/", `List ${words.one}s with their contact counts`, listing(Entry, `A page of ${words.one}s, by key`)),
      async (c) => c.json(await entriesPage(c.env, c.var.projectId, kind, c.req.valid("query")), 200),
    )
    .openapi(
      route.post("/", `Create a ${words.one}`, {
        description: words.note,
        ...creating(EntryInput, Entry, 409),
      }),
      async (c) => c.json(await createEntry(c.env, c.var.projectId, kind, c.req.valid("json")), 201),
    )
    .openapi(
      route.patch("/{id}", `Rename or recolor a ${words.one} (its key never changes)`, {
        request: { params: IdParam, body: jsonBody(EntryChange) },
        responses: { 200: json(Entry, "Changed"), ...errorsOf(400, 404) },
      }),
      async (c) => c.json(await changeEntry(c.env, c.var.projectId, kind, c.req.valid("param").id, c.req.valid("json")), 200),
    )
    .openapi(
      route.delete("/{id}", `Delete a ${words.one} and unlink it from every contact`, {
        request: { params: IdParam },
        responses: { 204: { description: "Deleted" }, ...errorsOf(404) },
      }),
      async (c) => {
        await removeEntry(c.env, c.var.projectId, kind, c.req.valid("param").id);
        return c.body(null, 204);
      },
    );
}

export const tagRoutes = dictionary("tag", { one: "tag", tag: "Tags", schema: "Tag" });
export const contactGroupRoutes = dictionary("group", {
  one: "contact group",
  tag: "Contact groups",
  schema: "ContactGroup",
  note: "A CRM segment of contacts; not a WhatsApp group (those are at /groups).",
});
