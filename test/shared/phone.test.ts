import { describe, expect, it } from "vitest";
import { phoneFromJid } from "../../shared/jid.ts";
import { normalizePhone } from "../../shared/phone.ts";

describe("phone numbers", () => {
  it.each([
    ["+55 11 98888-7777", "+5511988887777"],
    ["5511988887777", "+5511988887777"],
    ["(+1) 415-555-2671", "+14155552671"],
    ["+55 11 9888a-7777", null],
    ["+55+11", null],
    ["+1 415 555 2671", "+14155552671"],
    ["0044 20 7946 0958", "+442079460958"],
    ["hello", null],
    ["+12", null],
  ])("%s -> %s", (input, expected) => {
    expect(normalizePhone(input)).toBe(expected);
  });

  it("reads the phone of a user JID, not of a LID or a group", () => {
    expect(phoneFromJid("5511988887777:12@s.whatsapp.net")).toBe("+5511988887777");
    expect(phoneFromJid("5511988887777@s.whatsapp.net")).toBe("+5511988887777");
    expect(phoneFromJid("123456789@lid")).toBeNull();
    expect(phoneFromJid("120363025@g.us")).toBeNull();
    expect(phoneFromJid(null)).toBeNull();
  });
});
