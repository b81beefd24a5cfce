/**
 * A received message as the fleet hands it to the edge (`message.received`):
 * a text from `chat`, every other field at its plain value, unless `fields`
 * say otherwise. For the edge's tests, and as what the fleet's translator
 * must produce.
 */
export function inboundMessage(chat: string, fields: Record<string, unknown> = {}) {
  return {
    wa_message_id: `WA${crypto.randomUUID().replaceAll("-", "").slice(0, 18).toUpperCase()}`,
    chat_jid: chat,
    chat_jid_alt: null,
    sender_jid: chat,
    sender_jid_alt: null,
    push_name: "Maria",
    timestamp: Math.floor(Date.now() / 1000),
    from_me: false,
    offline: false,
    type: "text",
    body: "Oi",
    quoted_id: null,
    mentions: [],
    media: null,
    media_error: null,
    location: null,
    contact: null,
    poll: null,
    poll_vote: null,
    target_id: null,
    ...fields,
  };
}
