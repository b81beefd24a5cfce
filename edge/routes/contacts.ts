/**
 * /contacts (reference 001): the contact base. Create, read, partially
 * update and remove a contact; list with combinable filters; import in bulk.
 * (A contact's tags, groups, notes, history and privacy actions live in
 * contact-actions.ts.)
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { IdParam, PageQuery, creating, errorsOf, instant, json, jsonBody, operations, paged, reading } from "../schemas.ts";
import { ContactSchema, CONTACT_STATUSES } from "../services/contact-view.ts";
import {
  CreateContactInput,
  UpdateContactInput,
  contactsPage,
  createContact,
  getContact,
  removeContact,
  updateContactProfile,
} from "../services/contact-profiles.ts";
import { ImportResultSchema, importContacts } from "../services/contact-import.ts";

const route = operations(["Contacts"]);

const keys = (description: string) =>
  z.union([z.string(), z.array(z.string())]).optional().openapi({ type: "string", example: "hot-lead", description });
const filter = (description: string, example?: string) => z.string().trim().min(1).max(200).optional().openapi({ description, example });

const ListQuery = PageQuery.extend({
  search: filter("Any part of the name, phone, email or document (case and accents ignored; a phone in any format).", "silva"),
  tags: keys("Tag keys, comma-separated or repeated."),
  tags_match: z.enum(["any", "all"]).default("any").openapi({ description: "any (default): at least one of the tags; all: every one." }),
  groups: keys("Contact-group keys, comma-separated or repeated: contacts in any of them."),
  status: z.union([z.string(), z.array(z.string())]).optional().openapi({ type: "string", example: "active", description: `One or more of ${CONTACT_STATUSES.join(", ")}.` }),
  city: filter("Case ignored.", "Porto Alegre"),
  state: filter("Case ignored.", "RS"),
  country: filter("Case ignored.", "BR"),
  zip: filter("As stored."),
  document: filter("As written or, for a CPF/CNPJ, its digits."),
  has_email: z.enum(["true", "false"]).optional().openapi({ description: "true: only contacts with an email; false: only those without." }),
  instance_id: filter("The number that last talked to the contact."),
  last_activity_after: instant("Last message at or after"),
  last_activity_before: instant("Last message before"),
  created_after: instant("Created at or after"),
  created_before: instant("Created before"),
  sort: z.enum(["last_activity", "name", "created"]).default("last_activity").openapi({
    description: "last_activity (default): most recent first, never-messaged last; name: A-Z, nameless last; created: newest first.",
  }),
});

const ImportQuery = z.object({
  existing: z.enum(["update", "skip"]).default("update").openapi({
    description: "A row whose phone already has a contact: update (default) sets the fields the row fills in and adds its tags and groups; skip leaves the contact as it is.",
  }),
});

export const contactRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/import", "Import contacts from CSV or JSON", {
      description:
        "Up to 10,000 rows: `text/csv` with a header row (phone, name, email, document, document_type, street, number, complement, district, city, state, zip, country, status, tags, groups; tags and groups are `;`-separated keys), or JSON (`{ contacts: [...] }` or an array, each like POST /contacts). Phones are normalized (a row without a country code is read under `default_country`, else reported with code `country_code_required`) and deduplicated within the file (the first row wins, the others are skipped) and against the base. `errors[].row` is the row's 1-based position among the data rows (the header not counted).",
      request: {
        query: ImportQuery,
        // The service reads and checks the file row by row (a bad row is reported, not fatal), and
        // answers other types with a 415 naming these two: described here, not validated (plain
        // schema objects, so no JSON-only gate stands in front of the CSV).
        body: {
          required: true,
          content: {
            "text/csv": {
              schema: { type: "string", example: "phone,name,email,city,tags\n+5511999998888,Ana,ana@example.com,Porto Alegre,hot-lead;vip" },
            },
            "application/json": {
              schema: {
                type: "object",
                description: "`{ contacts: [...] }` or an array; each contact as POST /contacts takes it.",
                example: { contacts: [{ phone: "+5511999998888", name: "Ana", address: { city: "Porto Alegre" }, tags: ["hot-lead"] }] },
              },
            },
          },
        },
      },
      responses: { 200: json(ImportResultSchema, "What was imported"), ...errorsOf(400, 413, 415) },
    }),
    async (c) => {
      const file = { type: c.req.header("content-type") ?? "", text: await c.req.text() };
      return c.json(await importContacts(c.env, c.var.projectId, file, c.req.valid("query")), 200);
    },
  )
  .openapi(
    route.post("/", "Create a contact", creating(CreateContactInput, ContactSchema, 409)),
    async (c) => c.json(await createContact(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    route.get("/", "List contacts with filters", {
      request: { query: ListQuery },
      responses: { 200: json(paged(ContactSchema), "A page of contacts"), ...errorsOf(400) },
    }),
    async (c) => c.json(await contactsPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.get("/{id}", "Get a contact", reading(ContactSchema, "The contact")),
    async (c) => c.json(await getContact(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.patch("/{id}", "Update a contact (only the fields sent)", {
      request: { params: IdParam, body: jsonBody(UpdateContactInput) },
      responses: { 200: json(ContactSchema, "The contact as it is now"), ...errorsOf(400, 404, 409) },
    }),
    async (c) => c.json(await updateContactProfile(c.env, c.var.projectId, c.req.valid("param").id, c.req.valid("json")), 200),
  )
  .openapi(
    route.delete("/{id}", "Remove a contact", {
      description:
        "Removes the contact with its tags, groups, timeline and conversation. Its messages stay, and so does a suppression-list entry for its phone.",
      request: { params: IdParam },
      responses: { 204: { description: "Removed" }, ...errorsOf(404) },
    }),
    async (c) => {
      await removeContact(c.env, c.var.projectId, c.req.valid("param").id);
      return c.body(null, 204);
    },
  );
