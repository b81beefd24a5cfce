/**
 * `POST /contacts/{jid}/block` and `/unblock`: the number's own WhatsApp
 * block list. Not the CRM's suppression (`/contacts/{id}/suppress`): see
 * services/whatsapp-block.ts.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env.ts";
import { ErrorSchema, errors, json } from "../schemas.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { type BlockAction, setWhatsAppBlock } from "../services/whatsapp-block.ts";

const tags = ["WhatsApp block list"];

const JidParam = z.object({
  jid: z
    .string()
    .trim()
    .min(3)
    .max(80)
    .openapi({
      param: { name: "jid", in: "path" },
      example: "5511988887777@s.whatsapp.net",
      description: `The person: a JID (\`…@s.whatsapp.net\` or \`…@lid\`), a phone (\`+5511988887777\`), or a contact id. ${PHONE_RULE}`,
    }),
});

const BlockBody = z
  .object({
    instance_id: z.string().min(1).optional().openapi({
      description: "The number whose block list changes. Default: the number that talks to this person (their sticky, else last, number).",
    }),
  })
  .openapi("WhatsAppBlockRequest");

const BlockStatus = z
  .object({
    jid: z.string().openapi({ example: "5511988887777@s.whatsapp.net" }),
    blocked: z.boolean(),
    instance_id: z.string(),
  })
  .openapi("WhatsAppBlockStatus");

const route = (action: BlockAction) =>
  createRoute({
    method: "post",
    path: `/contacts/{jid}/${action}`,
    tags,
    summary:
      action === "block"
        ? "Block a person on WhatsApp (the number's own block list; not CRM suppression)"
        : "Unblock a person on WhatsApp (the number's own block list)",
    request: {
      params: JidParam,
      body: { required: false, content: { "application/json": { schema: BlockBody } } },
    },
    responses: {
      200: json(BlockStatus, action === "block" ? "Blocked on WhatsApp" : "Unblocked on WhatsApp"),
      400: errors[400],
      401: errors[401],
      404: errors[404],
      409: errors[409],
      422: errors[422],
      504: json(ErrorSchema, "The number's fleet did not answer in time"),
    },
  });

export const whatsappBlockRoutes = new OpenAPIHono<AppEnv>();
for (const action of ["block", "unblock"] as const) {
  whatsappBlockRoutes.openapi(route(action), async (c) => {
    const { jid } = c.req.valid("param");
    return c.json(await setWhatsAppBlock(c.env, c.var.projectId, jid, action, c.req.valid("json").instance_id), 200);
  });
}
