/**
 * Per-project settings and their defaults. Stored as one JSON document;
 * what is not stored takes the default, so new settings need no migration.
 */
import { z } from "@hono/zod-openapi";
import { isPhoneCountry } from "./phone.ts";
import { Strategy } from "../enums.ts";

export { Strategy };

export const Language = z.enum(["pt-BR", "en", "es"]);
export type Language = z.infer<typeof Language>;

const AlertUrl = z.url({ protocol: /^https?$/ }).max(2048).openapi({
  description:
    "Gets signed POSTs (Standard Webhooks) for instance.disconnected, instance.logged_out and instance.banned. Null removes it.",
});

const DefaultCountry = z
  .string()
  .trim()
  .toUpperCase()
  .refine(isPhoneCountry, "must be an ISO 3166-1 alpha-2 country code with a phone numbering plan, e.g. BR")
  .openapi({
    example: "BR",
    description:
      "The country of phone numbers written without their country code (`(11) 98765-4321`, `011 98765 4321`, `5511987654321`): read with that country's dialling rules. Null (the default): such numbers are refused with 400 `country_code_required`; only `+` or `00` numbers are read.",
  });

const LookupsHourly = z.number().int().min(1).max(10_000).openapi({
  description:
    "Phone numbers each number may ask WhatsApp about per UTC hour (`POST /numbers/check` and the sends' own lookups of numbers not in the recipient cache); bulk lookups are a known cause of bans. Past it: 429 `rate_limited` with `Retry-After`.",
});

const AutoRead = z.boolean().openapi({
  description:
    "true: every message a customer sends gets its WhatsApp read receipt (blue ticks) as soon as it is stored, without `POST /conversations/{jid}/read`. Messages written on the number's own phone get none.",
});

const CallsReject = z.boolean().openapi({
  description: "true: every call to the project's numbers is declined at once (the caller sees it rejected); `call.received` says so in `rejected`.",
});
const CallsMessage = z.string().trim().min(1).max(4096).openapi({
  example: "We can't take calls on this number. Please write to us here.",
  description:
    "With `reject`: the text the caller gets after their call is declined, sent by the number they called through the send path (queued and paced like any send, `reference` `call:<call id>`). Null: no text.",
});

/** A browser origin exactly as browsers send it: `https://app.example.com`, a port only if not the default. */
const CorsOrigin = z
  .string()
  .trim()
  .max(2048)
  .transform((text, ctx) => {
    const url = URL.parse(text);
    const bare = url && /^https?:$/.test(url.protocol) && !url.username && !url.password && !url.hostname.includes("*") && url.pathname === "/" && !url.search && !url.hash && !text.endsWith("#") && !text.endsWith("?");
    if (!url || !bare) {
      ctx.addIssue({ code: "custom", message: "must be an origin: http(s), a host and maybe a port, no path, e.g. https://app.example.com (no wildcards)" });
      return z.NEVER;
    }
    return url.origin;
  })
  .openapi({ type: "string", example: "https://app.example.com" });
const CorsOrigins = z
  .array(CorsOrigin)
  .max(50)
  .openapi({
    example: ["https://app.example.com"],
    description:
      "Browser origins whose pages may read this project's API answers (CORS). Written as origins (scheme, host, port if not the default); there is no wildcard: each site that holds one of the project's keys is named. Empty (the default): no page of another origin can read an answer.",
  });

const DEFAULT_OPTOUT_KEYWORDS = ["STOP", "SAIR", "PARAR", "CANCELAR", "UNSUBSCRIBE"];
const OptoutKeywords = z
  .array(z.string().trim().min(1).max(64))
  .max(50)
  .openapi({
    example: DEFAULT_OPTOUT_KEYWORDS,
    description: "A received text that is only one of these words (trimmed, any case, accents ignored) opts its contact out. [] turns keyword opt-out off.",
  });

export const Settings = z
  .object({
    /** Days a freshly connected number spends warming (growing daily caps, used only as a fallback). */
    warming_days: z.number().int().min(0).max(60).default(5),
    /** A warming number's cap on its first day; each later day multiplies it by `warming_growth`. */
    warming_first_day_limit: z.number().int().min(1).max(10_000).default(30),
    warming_growth: z.number().min(1).max(5).default(1.8),
    pacing: z
      .object({
        enabled: z.boolean().default(true),
        /** Gap between two sends of one number: random between min and max. */
        min_gap_ms: z.number().int().min(0).max(600_000).default(4_000),
        max_gap_ms: z.number().int().min(0).max(600_000).default(12_000),
        /** Show "typing..." before text, for a time that grows with its length. */
        typing: z.boolean().default(true),
      })
      .prefault({}),
    caps: z
      .object({
        hourly: z.number().int().min(1).max(100_000).default(200),
        daily: z.number().int().min(1).max(1_000_000).default(1_000),
        lookups_hourly: LookupsHourly.default(300),
      })
      .prefault({}),
    /** How rotation picks a number when no pool is named. */
    rotation: Strategy.default("round_robin"),
    language: Language.default("en"),
    /** Numbers whose health falls below this leave rotation. */
    health_threshold: z.number().int().min(0).max(100).default(40),
    /** How long a queued message waits for its number before it fails as `expired`. */
    message_ttl_hours: z.number().min(1).max(168).default(24),
    /** Where to hear about numbers dropping (reference 003): a signed endpoint for instance.disconnected/logged_out/banned. */
    alert_url: AlertUrl.nullable().default(null),
    optout_keywords: OptoutKeywords.default(DEFAULT_OPTOUT_KEYWORDS),
    default_country: DefaultCountry.nullable().default(null),
    auto_read: AutoRead.default(false),
    /** What happens to calls to the project's numbers (all are reported as `call.received`). */
    calls: z.object({ reject: CallsReject.default(false), message: CallsMessage.nullable().default(null) }).prefault({}),
    cors_origins: CorsOrigins.default([]),
  })
  .refine((s) => s.pacing.min_gap_ms <= s.pacing.max_gap_ms, {
    path: ["pacing", "max_gap_ms"],
    message: "must be at least pacing.min_gap_ms",
  })
  .openapi("Settings");
export type Settings = z.infer<typeof Settings>;

export const defaultSettings = (): Settings => Settings.parse({});

/** PATCH body: any subset, nested objects merged. */
export const SettingsPatch = z
  .object({
    warming_days: z.number().int().min(0).max(60),
    warming_first_day_limit: z.number().int().min(1).max(10_000),
    warming_growth: z.number().min(1).max(5),
    pacing: z
      .object({
        enabled: z.boolean(),
        min_gap_ms: z.number().int().min(0).max(600_000),
        max_gap_ms: z.number().int().min(0).max(600_000),
        typing: z.boolean(),
      })
      .partial(),
    caps: z
      .object({ hourly: z.number().int().min(1).max(100_000), daily: z.number().int().min(1).max(1_000_000), lookups_hourly: LookupsHourly })
      .partial(),
    rotation: Strategy,
    language: Language,
    health_threshold: z.number().int().min(0).max(100),
    message_ttl_hours: z.number().min(1).max(168),
    alert_url: AlertUrl.nullable(),
    optout_keywords: OptoutKeywords,
    default_country: DefaultCountry.nullable(),
    auto_read: AutoRead,
    calls: z.strictObject({ reject: CallsReject, message: CallsMessage.nullable() }).partial(),
    cors_origins: CorsOrigins,
    /** An action, not a setting: never stored. */
    rotate_alert_secret: z.boolean().openapi({
      description: "true: the alert URL gets a new signing secret, in this answer's `alert_secret` (once); the old one stops at once.",
    }),
  })
  .partial()
  .strict()
  .openapi("SettingsPatch");
export type SettingsPatch = z.infer<typeof SettingsPatch>;

/** PATCH /settings answers with the settings, plus the alert URL's secret the one time it is made. */
export const SettingsChanged = z
  .intersection(
    Settings,
    z.object({
      alert_secret: z
        .string()
        .optional()
        .openapi({ description: "The alert URL's signing secret, set only when this change created the alert endpoint or rotated its secret: shown once." }),
    }),
  )
  .openapi("SettingsChanged");
