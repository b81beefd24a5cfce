/**
 * Phone numbers as people type them -> E.164 (`+5511988887777`), through
 * libphonenumber-js rather than hand-written rules.
 *
 * A number carries its country code when it starts with `+` or with `00`
 * (the international prefix most of the world dials). Anything else is a
 * national number (`(11) 98765-4321`, `011 98765 4321`, or the country code
 * written without `+`, `5511987654321`), read with libphonenumber's rules for
 * the given default country (trunk prefix, carrier codes, a leading country
 * code); without one it cannot be read safely: `11987654321` would otherwise
 * reach a stranger in another country.
 */
import { type CountryCode, isSupportedCountry, isValidPhoneNumber, parsePhoneNumberFromString } from "libphonenumber-js/max";

export type PhoneReading = { phone: string } | { error: "invalid" | "country_code_required" };

const INVALID: PhoneReading = { error: "invalid" };

/** Countries whose numbering plan libphonenumber knows: what a default country may be (ISO 3166-1 alpha-2). */
export const isPhoneCountry = (code: string): code is CountryCode => isSupportedCountry(code);

export function readPhone(input: string, defaultCountry?: string | null): PhoneReading {
  // Spaces, dots, dashes and brackets are how people write numbers; anything else is not one.
  if (!/^[\d\s().+-]+$/.test(input)) return INVALID;
  const compact = input.trim().replace(/[\s().-]/g, "");
  if (!/^\+?\d+$/.test(compact)) return INVALID;
  const international = compact.startsWith("+") ? compact : compact.startsWith("00") ? `+${compact.slice(2)}` : null;
  if (international !== null) {
    // Only "possible" (a length the country uses): WhatsApp still knows numbers its plan no longer lists.
    const parsed = parsePhoneNumberFromString(international);
    return parsed?.isPossible() ? { phone: parsed.number } : INVALID;
  }
  if (!defaultCountry || !isPhoneCountry(defaultCountry)) return { error: "country_code_required" };
  const parsed = parsePhoneNumberFromString(compact, defaultCountry);
  // Read through a country's plan, a number must fit it (in either Brazilian form): a local number
  // without its area code is refused rather than guessed into another area.
  if (!parsed?.isPossible() || !phoneVariants(parsed.number).some((form) => isValidPhoneNumber(form))) return INVALID;
  return { phone: parsed.number };
}

/** The E.164 form of a number that carries its country code, or null. */
export function internationalPhone(input: string): string | null {
  const reading = readPhone(input);
  return "phone" in reading ? reading.phone : null;
}

/**
 * Both forms of a Brazilian mobile number: with the 9th digit
 * (`+55 11 9XXXX-XXXX`) and without (`+55 11 XXXX-XXXX`). WhatsApp registered
 * many numbers before the 9th digit existed and still answers for one form
 * only, so a lookup asks for both and keeps what the server returns.
 * Any other number has one form.
 */
export function phoneVariants(e164: string): string[] {
  const digits = e164.replace(/^\+/, "");
  if (digits.startsWith("55") && digits.length === 13 && digits[4] === "9") {
    return [e164, `+${digits.slice(0, 4)}${digits.slice(5)}`];
  }
  if (digits.startsWith("55") && digits.length === 12 && "6789".includes(digits[4]!)) {
    return [e164, `+${digits.slice(0, 4)}9${digits.slice(4)}`];
  }
  return [e164];
}
