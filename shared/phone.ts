/**
 * Phone numbers as people type them -> E.164 (`+5511988887777`), through
 * libphonenumber-js rather than hand-written rules. Numbers without a `+`
 * are read as international (country code first), the way WhatsApp writes them.
 */
import { parsePhoneNumberFromString } from "libphonenumber-js/max";

export function normalizePhone(input: string): string | null {
  const trimmed = input.trim();
  if (!/^[+\d][\d\s().-]*$/.test(trimmed)) return null;
  const international = trimmed.startsWith("+") ? trimmed : `+${trimmed.replace(/^00/, "")}`;
  const parsed = parsePhoneNumberFromString(international);
  return parsed?.isPossible() ? parsed.number : null;
}
