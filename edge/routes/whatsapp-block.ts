/**
 * `POST /contacts/{jid}/block` and `/unblock`: the number's own WhatsApp
 * block list. Not the CRM's suppression (`/contacts/{id}/suppress`): see
 * services/whatsapp-block.ts.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { BlockAction } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, operations } from "../schemas.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
import { setWhatsAppBlock } from "../services/whatsapp-block.ts";

const route = operations(["WhatsApp block list"]);

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

const summaries: Record<BlockAction, string> = {
  block: "Block a person on WhatsApp (the number's own block list; not CRM suppression)",
  unblock: "Unblock a person on WhatsApp (the number's own block list)",
};

const operation = (action: BlockAction) =>
  route.post(`/{jid}/${action}`, summaries[action], {
    request: {
      params: JidParam,
      body: { required: false, content: { "application/json": { schema: BlockBody } } },
    },
    responses: { 200: json(BlockStatus, action === "block" ? "Blocked on WhatsApp" : "Unblocked on WhatsApp"), ...errorsOf(400, 404, 409, 422, 429, 504) },
  });

export const whatsappBlockRoutes = new OpenAPIHono<AppEnv>();
for (const action of BlockAction.options) {
  whatsappBlockRoutes.openapi(operation(action), async (c) => {
    const { jid } = c.req.valid("param");
    return c.json(await setWhatsAppBlock(c.env, c.var.projectId, jid, action, c.req.valid("json").instance_id), 200);
  });
}
