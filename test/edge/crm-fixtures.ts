/** What the CRM suites (labels, timeline, privacy) share: a connected number and customers who write to it. */
import { call, connectedFleet, deliver, inboundMessage, messageOf, newInstance, newProject, noPacing } from "./helpers.ts";

/** A Brazilian mobile customer, and the same number without the 9th digit (as WhatsApp registered it). */
export const CUSTOMER = "+5511988887777";
export const CUSTOMER_8 = "+551188887777";
export const CUSTOMER_JID = "5511988887777@s.whatsapp.net";

/** A project with one connected number (no pacing) on which WhatsApp knows `CUSTOMER` in both forms. */
export async function crmProject(name = "acme") {
  const { api_key: key, id: projectId } = await newProject(name);
  await noPacing(key);
  const instance = await newInstance(key);
  const fleet = await connectedFleet(instance.id, {
    onWhatsApp: { "5511988887777": CUSTOMER_JID, "551188887777": CUSTOMER_JID, "5511977776666": "5511977776666@s.whatsapp.net" },
  });
  return { key, projectId, instanceId: instance.id, fleet };
}

export type CrmProject = Awaited<ReturnType<typeof crmProject>>;

/** The customer writes to the number; returns their contact's id and the message's. */
export async function customerWrites(project: CrmProject, chatJid = CUSTOMER_JID, fields: Record<string, unknown> = {}) {
  const { message_id } = await deliver(project.fleet.socket, inboundMessage(chatJid, fields));
  const message = await messageOf(project.key, message_id);
  return { contactId: message.contact_id as string, messageId: message_id };
}

export const api = (key: string, method: string, path: string, body?: unknown) => call(path, { method, token: key, body });

/** The contact's whole timeline, newest first. */
export const timelineOf = async (key: string, id: string) => (await api(key, "GET", `/contacts/${id}/history?limit=200`)).json.data as any[];

export const sendText = (key: string, body: Record<string, unknown>) => api(key, "POST", "/messages/text", { body: "Oi", ...body });
