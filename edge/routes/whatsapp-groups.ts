/**
 * `/groups`: WhatsApp groups (chat rooms) as one of the project's numbers
 * sees them. Not contact groups, the CRM's segments, at `/contact-groups`
 * (reference 001 keeps the two apart). To send to a group, put its JID in
 * the `to` of any `POST /messages/*`. Administration (create, change,
 * participants, invites, join, leave) goes through a number in the group:
 * services/group-admin.ts.
 */
import { OpenAPIHono, z } from "@hono/zod-openapi";
import { GROUP_JID, MAX_GROUP_PARTICIPANTS, ParticipantAction, ParticipantResult, WhatsAppGroup } from "../../shared/protocol.ts";
import type { AppEnv } from "../env.ts";
import { ApiError } from "../errors.ts";
import { errorsOf, json, jsonBody, operations } from "../schemas.ts";
import { changeParticipants, createGroup, groupInvite, joinGroup, leaveGroup, updateGroup } from "../services/group-admin.ts";
import { PHONE_RULE } from "../services/phone-input.ts";
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

const DrivingNumber = z.string().min(1).optional().openapi({
  description: "The number that does it; it must be in the group. Default: the connected number of the project most lately seen in the group.",
});

const DrivenBy = { instance_id: z.string().openapi({ description: "The number that did it." }) };

const GroupAnswer = GroupSchema.extend(DrivenBy).openapi("WhatsAppGroupChanged");

const People = (what: string) =>
  z
    .array(z.string().trim().min(1).max(80))
    .max(MAX_GROUP_PARTICIPANTS)
    .openapi({ description: `${what}: phones in any form or JIDs (\`…@s.whatsapp.net\`, \`…@lid\`). ${PHONE_RULE}`, example: ["+5511988887777"] });

const CreateBody = z
  .object({
    instance_id: z.string().min(1).openapi({ description: "The number that creates the group (its first admin)." }),
    subject: z.string().trim().min(1).max(100).openapi({ example: "Vendas SP" }),
    participants: People("Who is in it besides the number"),
  })
  .openapi("WhatsAppGroupCreate");

const UpdateBody = z
  .object({
    instance_id: DrivingNumber,
    subject: z.string().trim().min(1).max(100).optional(),
    description: z.string().max(2048).nullable().optional().openapi({ description: "null (or empty) removes it." }),
    only_admins_send: z.boolean().optional().openapi({ description: "Only admins may send messages (WhatsApp's announcement group)." }),
    only_admins_edit: z.boolean().optional().openapi({ description: "Only admins may change the group's subject, description and picture." }),
  })
  .openapi("WhatsAppGroupUpdate");

const ParticipantsBody = z
  .object({
    instance_id: DrivingNumber,
    ...Object.fromEntries(ParticipantAction.options.map((action) => [action, People(`Whom to ${action}`).optional()])),
  } as { instance_id: typeof DrivingNumber } & Record<ParticipantAction, z.ZodOptional<ReturnType<typeof People>>>)
  .openapi("WhatsAppGroupParticipantsChange", { description: "Exactly one of `add`, `remove`, `promote`, `demote`." });

const ParticipantsAnswer = z
  .object({
    action: ParticipantAction,
    results: z.array(
      ParticipantResult.openapi("WhatsAppParticipantResult", {
        description:
          "WhatsApp's answer for one person: `ok`, `privacy_restricted` (they let only contacts add them: send them the invite link), `already_member`, `recently_left` (cannot be added back yet), `not_found`, `refused`; `status` is WhatsApp's own code.",
      }),
    ),
    ...DrivenBy,
  })
  .openapi("WhatsAppGroupParticipantsResult");

const InviteAnswer = z
  .object({
    jid: z.string(),
    code: z.string(),
    url: z.string().openapi({ example: "https://chat.whatsapp.com/AbCdEfGhIjK1234567890" }),
    ...DrivenBy,
  })
  .openapi("WhatsAppGroupInvite");

const NumberOfGroupQuery = z.object({ instance_id: DrivingNumber });

const JoinBody = z
  .object({
    instance_id: z.string().min(1).openapi({ description: "The number that joins." }),
    invite: z.string().trim().min(1).max(200).openapi({ description: "The invite code, or the https://chat.whatsapp.com/… link.", example: "https://chat.whatsapp.com/AbCdEfGhIjK1234567890" }),
  })
  .openapi("WhatsAppGroupJoin");

const MembershipAnswer = (what: string) => z.object({ jid: z.string(), ...DrivenBy }).openapi({ description: what });

const adminErrors = errorsOf(400, 403, 404, 409, 422, 429, 504);

export const whatsappGroupRoutes = new OpenAPIHono<AppEnv>()
  .openapi(
    route.get("/", "The WhatsApp groups a number is in, with their participants", {
      request: { query: NumberQuery },
      responses: { 200: json(z.object({ data: z.array(GroupSchema) }), "The number's groups, by subject"), ...errorsOf(400, 404, 409, 504) },
    }),
    async (c) => c.json(await listWhatsAppGroups(c.env, c.var.projectId, c.req.valid("query").instance_id), 200),
  )
  .openapi(
    route.post("/", "Create a WhatsApp group through a number, with these participants", {
      request: { body: jsonBody(CreateBody) },
      responses: { 201: json(GroupAnswer, "The new group"), ...adminErrors },
    }),
    async (c) => c.json(await createGroup(c.env, c.var.projectId, c.req.valid("json")), 201),
  )
  .openapi(
    route.post("/join", "Join a WhatsApp group by its invite code or link", {
      request: { body: jsonBody(JoinBody) },
      responses: { 200: json(MembershipAnswer("The group joined"), "Joined"), ...errorsOf(400, 403, 404, 409, 504) },
    }),
    async (c) => {
      const { instance_id, invite } = c.req.valid("json");
      return c.json(await joinGroup(c.env, c.var.projectId, instance_id, invite), 200);
    },
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
  )
  .openapi(
    route.patch("/{jid}", "Change a WhatsApp group's subject, description or settings (the number must be an admin)", {
      request: { params: GroupParam, body: jsonBody(UpdateBody) },
      responses: { 200: json(GroupAnswer, "The group as it is now"), ...adminErrors },
    }),
    async (c) => {
      const { jid } = c.req.valid("param");
      const { instance_id, subject, description, only_admins_send, only_admins_edit } = c.req.valid("json");
      const changes = { subject, description: description === "" ? null : description, announce: only_admins_send, restrict: only_admins_edit };
      const given = Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined));
      if (Object.keys(given).length === 0)
        throw new ApiError(400, "invalid_request", "subject: give at least one of subject, description, only_admins_send, only_admins_edit", { field: "subject" });
      return c.json(await updateGroup(c.env, c.var.projectId, jid, instance_id, given), 200);
    },
  )
  .openapi(
    route.post("/{jid}/participants", "Add, remove, promote or demote people in a WhatsApp group (the number must be an admin)", {
      request: { params: GroupParam, body: jsonBody(ParticipantsBody) },
      responses: { 200: json(ParticipantsAnswer, "WhatsApp's answer for each person"), ...adminErrors },
    }),
    async (c) => {
      const { jid } = c.req.valid("param");
      const body = c.req.valid("json");
      const given = ParticipantAction.options.filter((action) => body[action] !== undefined);
      if (given.length !== 1)
        throw new ApiError(400, "invalid_request", `${given[1] ?? "add"}: give exactly one of add, remove, promote, demote`, { field: given[1] ?? "add" });
      const action = given[0]!;
      const people = body[action]!;
      if (people.length === 0) throw new ApiError(400, "invalid_request", `${action}: name at least one person`, { field: action });
      return c.json(await changeParticipants(c.env, c.var.projectId, jid, body.instance_id, action, people), 200);
    },
  )
  .openapi(
    route.get("/{jid}/invite", "A WhatsApp group's invite link (the number must be an admin)", {
      request: { params: GroupParam, query: NumberOfGroupQuery },
      responses: { 200: json(InviteAnswer, "The link"), ...errorsOf(400, 403, 404, 409, 504) },
    }),
    async (c) => c.json(await groupInvite(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("query").instance_id, false), 200),
  )
  .openapi(
    route.delete("/{jid}/invite", "Revoke a WhatsApp group's invite link; answers the new one (the number must be an admin)", {
      request: { params: GroupParam, query: NumberOfGroupQuery },
      responses: { 200: json(InviteAnswer, "The new link; the old one no longer works"), ...errorsOf(400, 403, 404, 409, 504) },
    }),
    async (c) => c.json(await groupInvite(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("query").instance_id, true), 200),
  )
  .openapi(
    route.post("/{jid}/leave", "A number leaves a WhatsApp group", {
      request: {
        params: GroupParam,
        body: { required: false, content: { "application/json": { schema: z.object({ instance_id: DrivingNumber }).openapi("WhatsAppGroupLeave") } } },
      },
      responses: { 200: json(MembershipAnswer("The group left").extend({ left: z.literal(true) }), "Left"), ...errorsOf(400, 404, 409, 504) },
    }),
    async (c) => c.json(await leaveGroup(c.env, c.var.projectId, c.req.valid("param").jid, c.req.valid("json").instance_id), 200),
  );
