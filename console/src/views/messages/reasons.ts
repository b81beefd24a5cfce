/**
 * Why a message failed or was removed, in the operator's words. The API's
 * `reason` stays visible next to it (it is what support and logs use); this
 * says what happened and what to do.
 */
const REASONS: Record<string, string> = {
  expired: "It waited in its number's queue longer than the message TTL (Settings: message_ttl_hours) without the number being able to send, and was given up. Check that the number is connected, then send it again.",
  send_failed: "The fleet could not hand it to WhatsApp after several tries (the connection kept dropping). Send it again once the number is stable.",
  invalid_content: "WhatsApp could not build this message from what was sent (a malformed file or field). Fix the content and send a new one.",
  media_unavailable: "The file could not be fetched or uploaded (its URL did not answer, or the stored copy is gone). Check the file and send again.",
  bad_params: "The fleet refused the request's parameters. Check the request and send a new one.",
  secret_unavailable: "The one-time code could not be decrypted to send it (the data key changed). Send a new code.",
  enqueue_failed: "It was never queued: the edge could not put it on its number's queue. Nothing was sent; it is safe to send again.",
  deleted_by_api: "Deleted for everyone through the API.",
  deleted_by_customer: "The customer deleted it for everyone.",
  deleted_by_phone: "Deleted for everyone from the number's own phone.",
};

const SERVER_ERRORS: Record<string, string> = {
  "463": "WhatsApp refused to deliver it (error 463): the number may not start a conversation with this person yet (the customer should write first), or it is restricted from messaging new contacts.",
  "479": "WhatsApp refused it (error 479): the message was malformed for the recipient.",
  "421": "WhatsApp refused it (error 421): the recipient cannot receive this kind of message.",
};

/** A plain-language explanation of a message's `reason`, or null when there is none to give. */
export function explainReason(reason: string | null | undefined): string | null {
  if (!reason) return null;
  if (REASONS[reason]) return REASONS[reason];
  const server = /^server_error_(.+)$/.exec(reason);
  if (server) {
    return SERVER_ERRORS[server[1]!] ?? `WhatsApp refused this message (error ${server[1]}). Sending the same message again will be refused the same way.`;
  }
  return null;
}
