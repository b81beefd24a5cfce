import { describe, expect, it } from "vitest";
import { phoneFromJid } from "../../shared/jid.ts";

describe("JIDs", () => {
  it("reads the phone of a user JID, not of a LID or a group", () => {
    expect(phoneFromJid("5511988887777:12@s.whatsapp.net")).toBe("+5511988887777");
    expect(phoneFromJid("5511988887777@s.whatsapp.net")).toBe("+5511988887777");
    expect(phoneFromJid("123456789@lid")).toBeNull();
    expect(phoneFromJid("120363025@g.us")).toBeNull();
    expect(phoneFromJid(null)).toBeNull();
  });
});
