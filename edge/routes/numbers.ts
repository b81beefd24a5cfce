/** /numbers/check: which phones are on WhatsApp (services/number-check.ts). */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { checkNumbers } from "../services/number-check.ts";
import { PHONE_RULE } from "../services/phone-input.ts";

const route = operations(["Numbers"]);

const NumberCheckRequest = z
  .object({
    phones: z
      .array(z.string().max(64))
      .min(1)
      .max(100)
      .openapi({ example: ["+5511988887777", "(11) 98888-7777"], description: `1 to 100 phones. ${PHONE_RULE}` }),
    instance_id: z.string().min(1).optional().openapi({
      description: "The number that asks WhatsApp. Default: one picked as rotation picks a sender (another one if its lookup budget is spent).",
    }),
  })
  .openapi("NumberCheckRequest");

const NumberCheck = z
  .object({
    input: z.string().openapi({ description: "The phone as given" }),
    phone: z.string().openapi({
      example: "+551188887777",
      description: "E.164; for a number on WhatsApp, the form its account has (a Brazilian mobile with or without the 9th digit)",
    }),
    on_whatsapp: z.boolean(),
    jid: z.string().nullable().openapi({ example: "551188887777@s.whatsapp.net" }),
  })
  .openapi("NumberCheck");

export const numberRoutes = new OpenAPIHono<AppEnv>().openapi(
  route.post("/check", "Check which phones are on WhatsApp", {
    description:
      "Answers each input, in order. Numbers in the recipient cache are answered from it; the rest are asked of WhatsApp in one query, which counts against the asking number's hourly lookup budget (`caps.lookups_hourly` in /settings). A batch that does not fit is refused whole: 429 `rate_limited` with `Retry-After`.",
    request: { body: jsonBody(NumberCheckRequest) },
    responses: { 200: json(z.object({ data: z.array(NumberCheck) }), "One answer per input, in order"), ...errorsOf(400, 404, 409, 429, 504) },
  }),
  async (c) => {
    const { phones, instance_id } = c.req.valid("json");
    return c.json(await checkNumbers(c.env, c.var.projectId, phones, instance_id), 200);
  },
);
