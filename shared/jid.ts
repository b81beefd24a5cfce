/** JID helpers shared by the edge and the fleet. */

/**
 * The phone number of a user JID, as `+<digits>`: drops the device part
 * (`5511999999999:12@s.whatsapp.net` -> `+5511999999999`). Null for LIDs,
 * groups and anything that is not a phone JID.
 */
export function phoneFromJid(jid: string | null | undefined): string | null {
  const match = /^(\d{5,15})(?::\d+)?@s\.whatsapp\.net$/.exec(jid ?? "");
  return match ? `+${match[1]}` : null;
}
