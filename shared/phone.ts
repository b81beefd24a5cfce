/**
 * Phone numbers as people type them -> E.164 (`+5511988887777`), through
 * libphonenumber-js rather than hand-written rules. Numbers without a `+`
 * are read as international (country code first), the way WhatsApp writes them.
 */
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

export function normalizePhone(input: string): string | null {
  // Spaces, dots, dashes and brackets are how people write numbers; anything else is not one.
  if (!/^[\d\s().+-]+$/.test(input)) return null;
  const compact = input.replace(/[\s().-]/g, "");
  if (!/^\+?\d+$/.test(compact)) return null;
  const international = compact.startsWith("+") ? compact : `+${compact.replace(/^00/, "")}`;
  const parsed = parsePhoneNumberFromString(international);
  return parsed?.isPossible() ? parsed.number : null;
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
