/// <reference path="./parse-prometheus-text-format.d.ts" />
/**
 * Prometheus text read back the way a scraper reads it, with a parser of
 * the format (parse-prometheus-text-format, prom2json's output), so a test
 * fails on output Prometheus would refuse, not only on a missing line.
 */
import parsePrometheusTextFormat, { type Family } from "parse-prometheus-text-format";

export type Scrape = Map<string, Family>;

export function parseScrape(text: string): Scrape {
  return new Map(parsePrometheusTextFormat(text).map((family) => [family.name, family]));
}

/** The value of the one sample of `name` whose labels include `labels`; undefined when there is none. */
export function sampleOf(scrape: Scrape, name: string, labels: Record<string, string> = {}): number | undefined {
  const matches = (scrape.get(name)?.metrics ?? []).filter((m) => Object.entries(labels).every(([k, v]) => m.labels?.[k] === v));
  if (matches.length > 1) throw new Error(`${name} ${JSON.stringify(labels)}: ${matches.length} samples match`);
  return matches[0]?.value === undefined ? undefined : Number(matches[0].value);
}
