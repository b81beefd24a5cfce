/** /instances: one per WhatsApp number. Thin: validate, call the service, answer. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { IdParam, InstanceDetailSchema, InstanceSchema, creating, errorsOf, json, jsonBody, listing, operations, reading } from "../schemas.ts";
import * as instances from "../services/instances.ts";
import { NumberSettingsPatch } from "../services/number-settings.ts";
import { PHONE_RULE } from "../services/phone-input.ts";

const route = operations(["Instances"]);

const ProxyUrl = z
  .url({ protocol: /^(https?|socks[45]?h?)$/, error: "must be an http(s):// or socks5:// URL" })
  .openapi({ example: "socks5://user:pass@proxy.example:1080" });

const CreateInstance = z
  .object({
    name: z.string().trim().min(1).max(100).openapi({ example: "support-1" }),
    proxy_url: ProxyUrl.nullish(),
  })
  .openapi("CreateInstance");

const UpdateInstance = z
  .strictObject({
    settings: NumberSettingsPatch.openapi({ description: "How this number behaves; what is left out stays. Each takes effect at once, with no reconnect." }),
    proxy_url: ProxyUrl.nullable().openapi({
      description: "The proxy its WhatsApp traffic goes through; null: none. The number reconnects through it at once. Private addresses are refused as at creation.",
    }),
  })
  .partial()
  .openapi("UpdateInstance");

const PairingCodeBody = z.object({
  phone: z.string().trim().min(3).max(40).openapi({ example: "+5511988887777", description: `The number being paired. ${PHONE_RULE}` }),
});

/** Baileys writes Buffers as `{ type: "Buffer", data: <base64 or bytes> }` (BufferJSON). */
const BufferJson = z.object({ type: z.literal("Buffer"), data: z.union([z.string(), z.array(z.number().int())]) });
const KeyPair = z.object({ private: BufferJson, public: BufferJson });
const Creds = z
  .looseObject({
    noiseKey: KeyPair,
    signedIdentityKey: KeyPair,
    signedPreKey: z.looseObject({ keyPair: KeyPair, signature: BufferJson, keyId: z.number().int() }),
    registrationId: z.number().int(),
    advSecretKey: z.string(),
    me: z.looseObject({
      id: z.string().regex(/^\d+(:\d+)?@s\.whatsapp\.net$/, "must be a paired session's phone JID"),
    }),
  })
  .openapi("BaileysCreds", { description: "A Baileys `creds.json`, exactly as Baileys wrote it (BufferJSON)." });

const QrSchema = z.object({
  state: z.literal("qr_pending"),
  qr: z.string().openapi({ description: "The QR payload; render it, or use `png`." }),
  png: z.string().nullable().openapi({ description: "The QR as a PNG data URL." }),
});

const byId = { params: IdParam };

export const instanceRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.post("/", "Create an instance (a WhatsApp number to pair)", creating(CreateInstance, InstanceSchema)),
    async (c) => c.json(await instances.createInstance(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    route.get("/", "List instances", listing(InstanceSchema, "A page of instances")),
    async (c) => c.json(await instances.instancesPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.get("/{id}", "Get an instance", reading(InstanceDetailSchema, "The instance, with its settings")),
    async (c) => c.json(await instances.instanceDetail(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.patch("/{id}", "Change how an instance behaves (ignore groups, always online, auto read) or its proxy", {
      request: { ...byId, body: jsonBody(UpdateInstance) },
      responses: { 200: json(InstanceDetailSchema, "The instance, with its settings"), ...errorsOf(400, 404) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await instances.updateInstance(c.env, c.var.projectId, id, c.req.valid("json")), 200);
    },
  )
  .openapi(
    route.delete("/{id}", "Delete an instance: logs out and wipes its session", {
      request: byId,
      responses: { 204: { description: "Deleted" }, ...errorsOf(404) },
    }),
    async (c) => {
      await instances.removeInstance(c.env, c.var.projectId, c.req.valid("param").id);
      return c.body(null, 204);
    },
  )
  .openapi(
    route.post("/{id}/restart", "Restart the instance's socket (a logged-out instance starts pairing again)", {
      request: byId,
      responses: { 202: json(InstanceSchema, "Restarting"), ...errorsOf(404, 409) },
    }),
    async (c) => c.json(await instances.restartInstance(c.env, c.var.projectId, c.req.valid("param").id), 202),
  )
  .openapi(
    route.post("/{id}/logout", "Log out of WhatsApp and wipe the session (rescan needed)", {
      request: byId,
      responses: { 200: json(InstanceSchema, "Logged out"), ...errorsOf(404) },
    }),
    async (c) => c.json(await instances.logoutInstance(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.get("/{id}/qr", "The current pairing QR", { request: byId, responses: { 200: json(QrSchema, "The QR to scan"), ...errorsOf(404, 409) } }),
    async (c) => c.json(await instances.currentQr(c.env, c.var.projectId, c.req.valid("param").id), 200),
  )
  .openapi(
    route.post("/{id}/pairing-code", "Pair with an 8-character code instead of a QR", {
      request: { ...byId, body: jsonBody(PairingCodeBody) },
      responses: {
        200: json(z.object({ code: z.string().openapi({ example: "ABCD1234" }) }), "Type this code on the phone"),
        ...errorsOf(400, 404, 409),
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await instances.requestPairingCode(c.env, c.var.projectId, id, c.req.valid("json").phone), 200);
    },
  )
  .openapi(
    route.post("/{id}/session", "Import a Baileys session (creds.json) so the number connects without a rescan", {
      request: { ...byId, body: jsonBody(Creds) },
      responses: { 202: json(InstanceSchema, "Imported; the instance is connecting with it"), ...errorsOf(400, 404, 409) },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      return c.json(await instances.importSession(c.env, c.var.projectId, id, c.req.valid("json")), 202);
    },
  );
