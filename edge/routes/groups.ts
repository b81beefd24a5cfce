/**
 * `/groups`: WhatsApp groups (chat rooms) as one of the project's numbers
 * sees them. Not contact groups, the CRM's segments, at `/contact-groups`
 * (reference 001 keeps the two apart). To send to a group, put its JID in
 * the `to` of any `POST /messages/*`.
 */
import { OpenAPIHono, createRoute, z } from "@hono/zod-openapi";
import { GROUP_JID, WhatsAppGroup } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { ErrorSchema, errors, json } from "../schemas.ts";
import { getWhatsAppGroup, listWhatsAppGroups } from "../services/whatsapp-groups.ts";

const tags = ["WhatsApp groups"];

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

const fleetErrors = {
  400: errors[400],
  401: errors[401],
  404: errors[404],
  409: errors[409],
  504: json(ErrorSchema, "The number's fleet did not answer in time"),
};

export const groupRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    createRoute({
      method: "get",
      path: "/groups",
      tags,
      summary: "The WhatsApp groups a number is in, with their participants",
      request: { query: NumberQuery },
      responses: { 200: json(z.object({ data: z.array(GroupSchema) }), "The number's groups, by subject"), ...fleetErrors },
    }),
    async (c) => c.json(await listWhatsAppGroups(c.env, c.var.projectId, c.req.valid("query").instance_id), 200),
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/groups/{jid}",
      tags,
      summary: "One WhatsApp group, as a number in it sees it",
      request: { params: GroupParam, query: NumberQuery },
      responses: { 200: json(GroupSchema, "The group"), ...fleetErrors },
    }),
    async (c) => {
      const { jid } = c.req.valid("param");
      return c.json(await getWhatsAppGroup(c.env, c.var.projectId, c.req.valid("query").instance_id, jid), 200);
    },
  );
