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
