/**
 * Which events an endpoint gets: everything, whole families (`message.*`) or
 * single types. The types come from the API document's `webhooks` section
 * (one entry per event type), so the list is never out of date.
 */
import { api } from "../../api.ts";
import { useLoad } from "../../ui.tsx";

type Doc = { webhooks?: Record<string, { post?: { summary?: string } }> };

let catalogue: Promise<[string, string][]> | undefined;
const eventTypes = () =>
  (catalogue ??= api<Doc>("/openapi.json").then((doc) => Object.entries(doc.webhooks ?? {}).map(([type, op]) => [type, op.post?.summary ?? ""] as [string, string])));

const familyOf = (type: string) => type.slice(0, type.indexOf(".") + 1) + "*";

export function EventFilters({ value, onChange }: { value: string[]; onChange: (filters: string[]) => void }) {
  const types = useLoad(eventTypes, []);
  const families = new Map<string, [string, string][]>();
  for (const entry of types.data ?? []) {
    const family = familyOf(entry[0]);
    families.set(family, [...(families.get(family) ?? []), entry]);
  }
  const all = value.includes("*");
  const toggle = (filter: string, on: boolean) => {
    let next = value.filter((f) => f !== filter);
    if (on) {
      // A wider filter makes the narrower ones it covers redundant.
      if (filter === "*") next = [];
      else if (filter.endsWith(".*")) next = next.filter((f) => familyOf(f) !== filter);
      next.push(filter);
    }
    onChange(next);
  };
  const box = (filter: string, label: string, title = "", disabled = false) => (
    <label title={title}>
      <input type="checkbox" name="events" value={filter} checked={value.includes(filter)} disabled={disabled} onChange={(e) => toggle(filter, e.currentTarget.checked)} />
      {label}
    </label>
  );
  return (
    <fieldset class="event-filters">
      <legend>Events</legend>
      {box("*", "Every event (*)")}
      {[...families].map(([family, entries]) => (
        <div class="family">
          {box(family, family, `Every ${family.slice(0, -2)} event, including ones added later`, all)}
          {entries.map(([type, summary]) => box(type, type, summary, all || value.includes(family)))}
        </div>
      ))}
      {types.error !== undefined && <p class="error">Could not read the event types; type filters into the API instead.</p>}
    </fieldset>
  );
}
