import { describe, expect, it } from "vitest";
import { readPhone } from "../../edge/services/phone.ts";

describe("phone numbers", () => {
  it.each([
    ["+55 11 98888-7777", "+5511988887777"],
    ["(+1) 415-555-2671", "+14155552671"],
    ["+1 415 555 2671", "+14155552671"],
    ["0044 20 7946 0958", "+442079460958"],
    // The 8-digit form of a Brazilian mobile: no longer in the plan, still how WhatsApp knows some numbers.
    ["+55 11 8888-7777", "+551188887777"],
  ])("with its country code: %s -> %s", (input, expected) => {
    expect(readPhone(input)).toEqual({ phone: expected });
    expect(readPhone(input, "US")).toEqual({ phone: expected });
  });

  it.each(["5511988887777", "(11) 98888-7777", "11988887777", "011 98888 7777", "415 555 2671"])(
    "without a country code and no default country: %s needs one",
    (input) => {
      expect(readPhone(input)).toEqual({ error: "country_code_required" });
    },
  );

  it.each([
    ["(11) 98765-4321", "BR", "+5511987654321"],
    ["11987654321", "BR", "+5511987654321"],
    ["5511987654321", "BR", "+5511987654321"],
    ["011 98765 4321", "BR", "+5511987654321"],
    ["0 21 11 98765-4321", "BR", "+5511987654321"],
    ["(11) 8765-4321", "BR", "+551187654321"],
    ["(415) 555-2671", "US", "+14155552671"],
    ["011 55 11 98765 4321", "US", "+5511987654321"],
    ["030 123456", "DE", "+4930123456"],
  ])("national %s in %s -> %s", (input, country, expected) => {
    expect(readPhone(input, country)).toEqual({ phone: expected });
  });

  it.each([
    ["+55 11 9888a-7777", null],
    ["+55+11", null],
    ["hello", "BR"],
    ["+12", null],
    // A local number without its area code does not fit the plan: refused, never guessed into another area.
    ["98765-4321", "BR"],
    ["123", "BR"],
  ])("not a phone: %s (default country %s)", (input, country) => {
    expect(readPhone(input, country)).toEqual({ error: "invalid" });
  });
});
