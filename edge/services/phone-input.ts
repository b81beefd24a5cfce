/**
 * A phone a client wrote -> E.164, under the project's `default_country`.
 * The one rule for every route that takes a phone (sends, contact cards,
 * contacts and their import, suppressions, WhatsApp blocks, conversations,
 * pairing): a number without its country code never goes anywhere on a guess.
 */
import { readPhone } from "./phone.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { getSettings } from "./settings.ts";

/** How a phone is read, for the API document. */
export const PHONE_RULE =
  "A number starting with `+` or `00` carries its country code. Any other (`(11) 98765-4321`, `011 98765 4321`, `5511987654321`) is a national number of the project's `default_country` (PATCH /settings); while that is unset it is refused with 400 `country_code_required`.";

/** `invalid`: what to call input that is no phone at all (routes that also take JIDs say so). */
function phoneError(error: "invalid" | "country_code_required", field: string, invalid = "not a phone number"): ApiError {
  if (error === "country_code_required") {
    return new ApiError(
      400,
      "country_code_required",
      `${field}: this number has no country code: write it as +<country code><number>, or set default_country in PATCH /settings`,
      { field },
    );
  }
  return new ApiError(400, "invalid_request", `${field}: ${invalid}`, { field });
}

/** The phone in E.164, or the 400 naming `field`. */
export function phoneOf(input: string, field: string, defaultCountry: string | null, invalid?: string): string {
  const reading = readPhone(input, defaultCountry);
  if ("error" in reading) throw phoneError(reading.error, field, invalid);
  return reading.phone;
}

/** `phoneOf` under the project's own default country. */
export async function projectPhone(env: Env, projectId: string, input: string, field: string, invalid?: string): Promise<string> {
  return phoneOf(input, field, (await getSettings(env, projectId)).default_country, invalid);
}
