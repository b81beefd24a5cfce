/**
 * Every event type and what it carries, as zod schemas: the one source for
 * the event types (`EVENT_TYPES`, webhook filters, SSE), their TypeScript
 * shapes (events.ts) and the OpenAPI document's `webhooks` section, where a
 * client generator finds each payload. The end-to-end webhook receiver
 * checks every delivery against these, so the document cannot drift from
 * what is sent.
 *
 * Objects are strict: a field a producer adds without documenting it here
 * fails that check.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import { DisconnectReason, GroupParticipantsChanged, InstanceState, PresenceState } from "../../shared/protocol.ts";
import { MessageActor, MessageDirection, StoredMessageStatus } from "../enums.ts";

const nullable = (description: string) => z.string().nullable().openapi({ description });

/** Correlation ids every message event carries (reference 004): usable when no phone is present. */
const correlation = {
  contact_id: nullable("The customer (in a group, the participant who wrote), once the message is filed under one."),
  conversation_id: nullable("The customer's one conversation across all numbers; null in groups."),
  reference: nullable("The `reference` the client gave our message (or the message this one replies or reacts to)."),
};

const MediaRef = z
  .strictObject({
    id: z.string().optional().openapi({ description: "Received files only: the file in the private bucket." }),
    url: z.string().optional().openapi({ description: "Received files only: a signed link, fresh when the event leaves." }),
    mime_type: z.string(),
    filename: z.string().nullable(),
    size: z.number().int(),
    ptt: z.boolean().optional().openapi({ description: "A voice note." }),
  })
  .openapi("EventMedia");

/** What a message says, by type (reference 002): the fields a received message and a phone-app message share. */
const contentFields = {
  type: z.string().openapi({ description: "text, image, video, audio, document, sticker, location, contact, reaction, poll, poll_vote, ..." }),
  body: z.string().nullable().openapi({ description: "The text a person sees: a text, a caption, a location's or card's name, a reaction's emoji." }),
  timestamp: z.number().int().optional().openapi({ description: "WhatsApp's own time, in Unix seconds." }),
  offline: z.boolean().optional().openapi({ description: "Delivered while the number was offline." }),
  media: MediaRef.optional(),
  media_error: z.string().optional().openapi({ description: "Why a received file could not be kept." }),
  latitude: z.number().optional(),
  longitude: z.number().optional(),
  location: z
    .strictObject({ latitude: z.number(), longitude: z.number(), name: z.string().nullable(), address: z.string().nullable() })
    .optional(),
  contact: z.strictObject({ display_name: z.string().nullable(), vcard: z.string().nullable() }).optional(),
  poll: z.strictObject({ name: z.string(), options: z.array(z.string()), selectable_count: z.number().int() }).optional(),
  poll_vote: z.strictObject({ poll_message_id: z.string(), selected: z.array(z.string()) }).optional(),
  mentions: z.array(z.string()).optional().openapi({ description: "Who it mentions: phone JIDs (LIDs resolved where known)." }),
  quoted_id: z.string().optional().openapi({ description: "The WhatsApp id of the message it replies or reacts to." }),
  quoted_message_id: z.string().optional().openapi({ description: "Our id of that message, when we have it." }),
};

const ids = { message_id: z.string(), wa_message_id: z.string() };

/** Which message an event is about. */
const MessageRef = {
  message_id: z.string(),
  wa_message_id: z.string().nullable(),
  chat_jid: z.string(),
  direction: MessageDirection,
};

const InstancePayload = z
  .strictObject({
    state: InstanceState,
    reason: DisconnectReason.nullable(),
    close_code: z.number().int().nullable().openapi({ description: "WhatsApp's close code of the last disconnect." }),
    jid: z.string().nullable(),
    phone: z.string().nullable(),
    qr: z.string().nullable().optional().openapi({ description: "instance.qr only: the QR to show (WhatsApp rotates it)." }),
  })
  .openapi("InstancePayload");

/** The fields of each event type besides id, type, created_at and instance_id. */
const FIELDS = {
  "message.received": {
    description: "A customer's message reached one of the project's numbers.",
    fields: {
      sender: z.strictObject({ jid: z.string(), lid: z.string().nullable(), name: z.string().nullable() }),
      ...correlation,
      payload: z.strictObject({
        ...ids,
        from: z.string(),
        ...contentFields,
        group: z
          .strictObject({
            jid: z.string(),
            subject: z.string().nullable().openapi({ description: "As the number last heard it; null while unknown." }),
          })
          .optional()
          .openapi({ description: "In a WhatsApp group: which one (`from` is the group too; `sender` is the participant who wrote)." }),
      }),
    },
  },
  "message.sent": {
    description:
      "WhatsApp took one of our messages. A message written on the number's own phone app is announced too, with `source: phone` and its content fields.",
    fields: {
      ...correlation,
      payload: z.strictObject({
        ...ids,
        ...contentFields,
        body: contentFields.body.optional(),
        to: z.string(),
        status: z.literal("sent"),
        sent_at: z.string().nullable(),
        source: z.literal("phone").optional(),
      }),
    },
  },
  "message.status": {
    description: "A message moved on: delivered, read, played, failed (with a reason) or canceled.",
    fields: {
      ...correlation,
      payload: z.strictObject({
        message_id: z.string(),
        wa_message_id: z.string().nullable(),
        status: StoredMessageStatus,
        reason: z.string().nullable(),
        chat_jid: z.string(),
      }),
    },
  },
  "message.edited": {
    description: "A message's text or caption was edited: ours through the API or the number's phone, or the customer's.",
    fields: {
      ...correlation,
      payload: z.strictObject({
        ...MessageRef,
        by: MessageActor,
        previous_body: z.string().nullable(),
        body: z.string(),
        edited_at: z.string(),
      }),
    },
  },
  "message.deleted": {
    description: "A message was deleted for everyone. A customer's keeps no body or media after this: it is a tombstone.",
    fields: {
      ...correlation,
      payload: z.strictObject({ ...MessageRef, by: MessageActor, deleted_at: z.string() }),
    },
  },
  "presence.update": {
    description: "A contact's presence, as seen by a number subscribed to it (POST /conversations/{jid}/presence/subscribe).",
    fields: {
      payload: z.strictObject({
        jid: z.string(),
        state: PresenceState,
        last_seen: z.string().nullable().openapi({ description: "When they were last online, if they share it." }),
      }),
    },
  },
  "group.updated": {
    description:
      "A WhatsApp group one of the project's numbers is in changed its subject, description or settings. Only what changed is present; `by` who changed it (a phone JID when known, else a LID).",
    fields: {
      payload: z.strictObject({
        jid: z.string().openapi({ description: "The group." }),
        subject: z.string().optional(),
        description: z.string().nullable().optional().openapi({ description: "null: removed." }),
        only_admins_send: z.boolean().optional(),
        only_admins_edit: z.boolean().optional(),
        by: z.string().nullable(),
      }),
    },
  },
  "group.participants": {
    description:
      "People were added to, removed from (or left), promoted in or demoted in a WhatsApp group one of the project's numbers is in. People and `by` are phone JIDs when known, else LIDs.",
    fields: {
      payload: z.strictObject({
        jid: z.string().openapi({ description: "The group." }),
        action: GroupParticipantsChanged.shape.action,
        participants: z.array(z.string()),
        by: z.string().nullable().openapi({ description: "Who did it; the participant themselves when they joined or left." }),
      }),
    },
  },
  "call.received": {
    description:
      "Someone called a number. With the project's `calls.reject` on, the call was declined at once and, with `calls.message`, answered with that text (a message of its own, `reference` `call:<call_id>`).",
    fields: {
      payload: z.strictObject({
        call_id: z.string().openapi({ description: "WhatsApp's id of the call." }),
        from: z.string().openapi({ description: "Who called: their phone JID (a LID resolved where known)." }),
        video: z.boolean(),
        group: z.boolean().openapi({ description: "A group call." }),
        group_jid: z.string().nullable().openapi({ description: "A group call's group, when WhatsApp names it." }),
        timestamp: z.number().int().openapi({ description: "When the call was offered, in Unix seconds." }),
        offline: z.boolean().openapi({ description: "Delivered while the number was offline: the call was over, so it was neither rejected nor answered." }),
        rejected: z.boolean().openapi({ description: "The number declined the call (`calls.reject`)." }),
        message_id: z.string().nullable().openapi({ description: "The answer text sent to the caller (`calls.message`), a message of its own; null when none was sent." }),
      }),
    },
  },
  "instance.qr": { description: "A new QR to pair the number.", fields: { payload: InstancePayload } },
  "instance.connected": { description: "The number came online.", fields: { payload: InstancePayload } },
  "instance.disconnected": {
    description: "A connected number dropped, or why it is down changed (`pairing_expired`).",
    fields: { payload: InstancePayload },
  },
  "instance.logged_out": { description: "The number was logged out from the phone: pair it again.", fields: { payload: InstancePayload } },
  "instance.banned": { description: "WhatsApp banned the number.", fields: { payload: InstancePayload } },
  "contact.merged": {
    description: "A contact known by its LID turned out to be a phone's contact, and was merged into it.",
    fields: {
      payload: z.strictObject({ from_contact_id: z.string(), into_contact_id: z.string(), lid: z.string(), jid: z.string() }),
    },
  },
  "webhook.disabled": {
    description: "A webhook failing for 72 hours was disabled (re-enable it with PATCH /webhooks/{id}).",
    fields: { payload: z.strictObject({ webhook_id: z.string(), url: z.string(), reason: z.string() }) },
  },
} as const;

type Catalogue = typeof FIELDS;
export type EventType = keyof Catalogue;
export const EVENT_TYPES = Object.keys(FIELDS) as EventType[];

/** The fields each event type carries besides id/type/created_at/instance_id. */
export type EventFields = { [T in EventType]: z.infer<z.ZodObject<Catalogue[T]["fields"]>> };

/** The whole event of each type, as webhooks and SSE carry it. */
export const EVENT_SCHEMAS = Object.fromEntries(
  EVENT_TYPES.map((type) => [
    type,
    z
      .strictObject({
        id: z.string().openapi({ description: "Stable across retries: the `webhook-id` header." }),
        type: z.literal(type),
        created_at: z.string(),
        instance_id: z.string().nullable().openapi({ description: "The number concerned; null for project-wide events." }),
        ...FIELDS[type].fields,
      })
      .openapi(eventSchemaName(type), { description: FIELDS[type].description }),
  ]),
) as unknown as Record<EventType, z.ZodType>;

function eventSchemaName(type: string): string {
  return `${type.split(/[._]/).map((w) => w[0]!.toUpperCase() + w.slice(1)).join("")}Event`;
}

/** Documents each event as an OpenAPI webhook: what a subscribed endpoint receives. */
export function documentEvents(registry: OpenAPIHono["openAPIRegistry"]): void {
  for (const type of EVENT_TYPES) {
    registry.registerWebhook({
      method: "post",
      path: type,
      summary: FIELDS[type].description,
      description:
        "Signed per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`). Any 2xx acknowledges it; anything else is retried with backoff. The same event arrives on `GET /events`.",
      tags: ["Webhooks"],
      security: [{ webhookSignature: [] }],
      request: { body: { content: { "application/json": { schema: EVENT_SCHEMAS[type] } } } },
      responses: { 200: { description: "Acknowledged" } },
    });
  }
}
