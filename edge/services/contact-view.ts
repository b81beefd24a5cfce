/**
 * A contact as the API shows it (reference 001), wherever a route returns
 * one: the profile columns with the address folded into one object, and the
 * keys of its tags and contact groups.
 */
import { z } from "@hono/zod-openapi";
import { db } from "../db/client.ts";
import { contactKeys } from "../db/contacts.ts";
import type { ContactRow } from "../db/schema/index.ts";
import { ContactSource, ContactStatus } from "../enums.ts";
import type { Env } from "../env.ts";
import { avatarUrl } from "./contact-avatars.ts";

export const CONTACT_STATUSES = ContactStatus.options;
export const ADDRESS_FIELDS = ["street", "number", "complement", "district", "city", "state", "zip", "country"] as const;
export type AddressField = (typeof ADDRESS_FIELDS)[number];

export const AddressSchema = z
  .object(Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, z.string().nullable()])) as Record<AddressField, z.ZodNullable<z.ZodString>>)
  .openapi("ContactAddress", { example: { street: null, number: null, complement: null, district: null, city: "Porto Alegre", state: "RS", zip: null, country: "BR" } });

export const ContactSchema = z
  .object({
    id: z.string(),
    phone: z.string().nullable().openapi({ example: "+5511999998888", description: "`+<digits>`; null only for a contact WhatsApp has shown us by LID alone." }),
    jid: z.string().nullable().openapi({ example: "5511999998888@s.whatsapp.net" }),
    lid: z.string().nullable(),
    name: z.string().nullable().openapi({ example: "Vinicius Berni" }),
    email: z.string().nullable().openapi({ example: "vinicius@example.com", description: "Stored lowercase." }),
    document: z.string().nullable().openapi({ example: "12345678900" }),
    document_type: z.string().nullable().openapi({ example: "cpf" }),
    address: AddressSchema,
    status: ContactStatus,
    opted_out_at: z.string().nullable(),
    source: ContactSource.openapi({ description: "How the contact entered the base." }),
    instance_id: z.string().nullable().openapi({ description: "The number that last talked to this contact." }),
    message_count: z.number().int(),
    last_message_at: z.string().nullable(),
    avatar_url: z.string().nullable().openapi({
      description:
        "The person's WhatsApp picture, as a signed link like received media's (valid `MEDIA_URL_TTL`, signed afresh on every read). Fetched in the background when a number first hears from them and again once a week; null until then, or when they have none or their privacy hides it.",
    }),
    tags: z.array(z.string()).openapi({ example: ["hot-lead"], description: "Tag keys." }),
    groups: z.array(z.string()).openapi({ example: ["onboarding"], description: "Contact-group keys (CRM segments, not WhatsApp groups)." }),
    created_at: z.string(),
    updated_at: z.string(),
  })
  .openapi("Contact");

export type ContactView = z.infer<typeof ContactSchema>;

/** The `address_<field>` column of each address field. */
export const addressColumn = (field: AddressField) => `address_${field}` as const;

export function contactView(row: ContactRow, tags: string[], groups: string[], avatar_url: string | null): ContactView {
  return {
    id: row.id,
    phone: row.phone,
    jid: row.jid,
    lid: row.lid,
    name: row.name,
    email: row.email,
    document: row.document,
    document_type: row.document_type,
    address: Object.fromEntries(ADDRESS_FIELDS.map((f) => [f, row[addressColumn(f)]])) as ContactView["address"],
    status: row.status,
    opted_out_at: row.opted_out_at,
    source: row.source,
    instance_id: row.instance_id,
    message_count: row.message_count,
    last_message_at: row.last_message_at,
    avatar_url,
    tags,
    groups,
    created_at: row.created_at,
    updated_at: row.updated_at,
  };
}

/** Several contacts with their tag and group keys, read in one round trip. */
export async function contactViews(env: Env, projectId: string, rows: ContactRow[]): Promise<ContactView[]> {
  const [keys, avatars] = await Promise.all([contactKeys(db(env.DB), projectId, rows.map((r) => r.id)), Promise.all(rows.map((r) => avatarUrl(env, r)))]);
  return rows.map((r, i) => contactView(r, keys.tags.get(r.id) ?? [], keys.groups.get(r.id) ?? [], avatars[i]!));
}

export async function contactViewOf(env: Env, projectId: string, row: ContactRow): Promise<ContactView> {
  const [view] = await contactViews(env, projectId, [row]);
  return view!;
}
