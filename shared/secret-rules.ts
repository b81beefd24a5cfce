/**
 * What makes a secret good enough to run with: the one rule the edge (its
 * production check and /health), the fleet (POMBO_SESSION_KEY) and
 * `npm run deploy` (before it sets anything) apply, so they never disagree.
 *
 * Every secret here is used as key material (HKDF input for POMBO_DATA_KEY
 * and POMBO_SESSION_KEY) or compared as a bearer token, so what matters is
 * how hard it is to guess. A person's password rules would be wrong: a long
 * random string is what is asked for. 32 characters is what
 * `openssl rand -base64 24` or `-hex 16` prints, 128 bits or more; a
 * string of that length built from under 10 distinct characters
 * (`aaaa...`, `0101...`) is not random, whatever its length.
 */

export const MIN_SECRET_LENGTH = 32;
const MIN_DISTINCT_CHARACTERS = 10;
/** The values .env.example ships for local runs: public, so never good enough for production. */
const EXAMPLE_VALUE = /^pombo-local-|change-me/i;

/** How to make one, for every refusal. */
export const SECRET_HINT = `a random string of at least ${MIN_SECRET_LENGTH} characters, e.g. \`openssl rand -base64 32\``;

/**
 * Why `value` is not a usable random secret, as the end of a sentence that
 * starts with its name ("is missing", "has 12 characters; ..."), or null if
 * it is. Never quotes the value.
 */
export function randomSecretProblem(value: string | undefined, { allowExample = false } = {}): string | null {
  const text = value?.trim();
  if (!text) return "is missing";
  if (text.length < MIN_SECRET_LENGTH) return `has ${text.length} characters; it must be ${SECRET_HINT}`;
  if (/\s/.test(text)) return `contains whitespace; it must be ${SECRET_HINT}`;
  const distinct = new Set(text).size;
  if (distinct < MIN_DISTINCT_CHARACTERS) return `uses only ${distinct} distinct characters, so it is not random; it must be ${SECRET_HINT}`;
  if (!allowExample && EXAMPLE_VALUE.test(text)) return `is the public example value from .env.example; it must be ${SECRET_HINT}`;
  return null;
}
