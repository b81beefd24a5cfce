/** /suppressions (reference 001, LGPD): the numbers this project never messages. */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { SuppressionSource } from "../enums.ts";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, jsonBody, listing, operations } from "../schemas.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { addSuppression, removeSuppression, suppressionsPage } from "../services/privacy.ts";

const route = operations(["Suppressions"]);

const Phone = z.string().trim().min(3).max(32).openapi({ example: "+5511999998888", description: `Any common format; stored as \`+<digits>\`. ${PHONE_RULE}` });

const Suppression = z
  .object({
    phone: z.string().openapi({ example: "+5511999998888" }),
    reason: z.string().openapi({ example: "manual", description: "optout, manual, bounce, ..." }),
    note: z.string().nullable().openapi({ example: "asked to stop by email", description: "Why, in the client's words." }),
    source: SuppressionSource.openapi({ description: "Who put it there: `contact` for a keyword opt-out." }),
    created_at: z.string(),
  })
  .openapi("Suppression");

const SuppressionInput = z
  .object({
    phone: Phone,
    reason: z
      .string()
      .regex(/^[a-z][a-z0-9_]{0,31}$/, "a lowercase word, e.g. optout, manual, bounce")
      .default("manual")
      .openapi({ description: "`optout` marks the number's contact opted_out, `bounce` unreachable, anything else blocked." }),
    note: z.string().trim().min(1).max(500).optional().openapi({ description: "Why, in your words." }),
  })
  .strict();

export const suppressionRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/", "List suppressed numbers, newest first", listing(Suppression, "A page of entries")),
    async (c) => c.json(await suppressionsPage(c.env, c.var.projectId, c.req.valid("query")), 200),
  )
  .openapi(
    route.post("/", "Suppress a number: every send to it is refused (422)", {
      description: "Either Brazilian form of a number matches the entry. A number already listed takes the new reason (200).",
      request: { body: jsonBody(SuppressionInput) },
      responses: { 200: json(Suppression, "Already listed; reason updated"), 201: json(Suppression, "Added"), ...errorsOf(400) },
    }),
    async (c) => {
      const { entry, created } = await addSuppression(c.env, c.var.projectId, c.req.valid("json"));
      return created ? c.json(entry, 201) : c.json(entry, 200);
    },
  )
  .openapi(
    route.delete("/", "Un-suppress a number (either Brazilian form)", {
      description: "Its contact, if opted out or blocked, becomes active again.",
      request: { query: z.object({ phone: Phone }) },
      responses: { 204: { description: "Removed" }, ...errorsOf(400, 404) },
    }),
    async (c) => {
      await removeSuppression(c.env, c.var.projectId, c.req.valid("query").phone);
      return c.body(null, 204);
    },
  );
