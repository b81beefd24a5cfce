/**
 * What a WhatsApp JID names: a person by phone (`5511988887777@s.whatsapp.net`)
 * or by LID (`123456789012345@lid`, which hides the phone), or a group chat
 * (`…@g.us`). Pure: who the person is lives in identity.ts.
 */

/** `user[_agent][:device]@server` -> `user@server`: one JID per person, whichever device wrote. */
export function bareJid(jid: string): string {
  const at = jid.indexOf("@");
  if (at < 0) return jid;
  const user = jid.slice(0, at).split(":")[0]!.split("_")[0]!;
  return `${user}@${jid.slice(at + 1)}`;
}

export const isLid = (jid: string | null | undefined) => !!jid && jid.endsWith("@lid");
export const isPhoneJid = (jid: string | null | undefined) => !!jid && jid.endsWith("@s.whatsapp.net");
export const isGroup = (jid: string) => jid.endsWith("@g.us");
/** `+<digits>` -> the phone JID WhatsApp would write for it. */
export const phoneJid = (e164: string) => `${e164.slice(1)}@s.whatsapp.net`;
