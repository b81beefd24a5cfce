/** Events as the receive path publishes them, for the events and webhooks suites. */
import type { NewEvent } from "../../edge/services/events.ts";

/** A customer's message; with `media`, an image whose link the hub signs afresh. */
export const receivedEvent = (body: string, media?: { id: string; url: string }): NewEvent =>
  ({
    type: "message.received",
    instance_id: "inst-1",
    sender: { jid: "5511988887777@s.whatsapp.net", lid: null, name: "Maria" },
    contact_id: "ct_1",
    conversation_id: "cv_1",
    reference: null,
    payload: {
      message_id: crypto.randomUUID(),
      wa_message_id: "3EB0A1B2C3",
      type: media ? "image" : "text",
      from: "5511988887777@s.whatsapp.net",
      body,
      ...(media ? { media: { ...media, mime_type: "image/jpeg", filename: null, size: 10 } } : {}),
    },
  }) as NewEvent;

type InstanceEventType = Extract<NewEvent["type"], `instance.${string}`>;

/** An `instance.*` event as a number's object announces it. */
export const instanceEvent = (type: InstanceEventType, instanceId: string): NewEvent => ({
  type,
  instance_id: instanceId,
  payload: {
    state: type === "instance.connected" ? "connected" : type === "instance.qr" ? "qr_pending" : "disconnected",
    reason: type === "instance.logged_out" ? "logged_out" : type === "instance.banned" ? "banned" : type === "instance.disconnected" ? "transient" : null,
    close_code: null,
    jid: "5511999990000@s.whatsapp.net",
    phone: "+5511999990000",
  },
});

export const disconnectedEvent = (instanceId: string): NewEvent => instanceEvent("instance.disconnected", instanceId);
