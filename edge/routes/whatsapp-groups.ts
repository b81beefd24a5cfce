/**
 * `/groups`: WhatsApp groups (chat rooms) as one of the project's numbers
 * sees them. Not contact groups, the CRM's segments, at `/contact-groups`
 * (reference 001 keeps the two apart). To send to a group, put its JID in
 * the `to` of any `POST /messages/*`.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { GROUP_JID, WhatsAppGroup } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { errorsOf, json, operations } from "../schemas.ts";
import { getWhatsAppGroup, listWhatsAppGroups } from "../services/whatsapp-groups.ts";

const route = operations(["WhatsApp groups"]);

const GroupSchema = WhatsAppGroup.openapi("WhatsAppGroup", {
  description: "A WhatsApp group (chat room), not a CRM contact group. Participants are named by phone JID when WhatsApp gives the phone, else by LID.",
});

const NumberQuery = z.object({
  instance_id: z.string().min(1).openapi({ description: "The number whose groups these are (groups are seen through a member)." }),
});

const GroupParam = z.object({
  jid: z
    .string()
    .regex(GROUP_JID, "not a WhatsApp group JID (…@g.us)")
    .openapi({ param: { name: "jid", in: "path" }, example: "120363041234567890@g.us" }),
});

export const whatsappGroupRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/", "The WhatsApp groups a number is in, with their participants", {
      request: { query: NumberQuery },
      responses: { 200: json(z.object({ data: z.array(GroupSchema) }), "The number's groups, by subject"), ...errorsOf(400, 404, 409, 504) },
    }),
    async (c) => c.json(await listWhatsAppGroups(c.env, c.var.projectId, c.req.valid("query").instance_id), 200),
  )
  .openapi(
    route.get("/{jid}", "One WhatsApp group, as a number in it sees it", {
      request: { params: GroupParam, query: NumberQuery },
      responses: { 200: json(GroupSchema, "The group"), ...errorsOf(400, 404, 409, 504) },
    }),
    async (c) => {
      const { jid } = c.req.valid("param");
      return c.json(await getWhatsAppGroup(c.env, c.var.projectId, c.req.valid("query").instance_id, jid), 200);
    },
  );
