/** What the contact views share: tabs, status words, and links that keep filters in the hash. */
import { href } from "../../router.ts";
import type { Contact, ContactStatus } from "../../types.ts";

export const CONTACT_STATUSES: ContactStatus[] = ["active", "pending_validation", "opted_out", "blocked", "unreachable"];

/** What each status means for sends, in the operator's words. */
export const STATUS_MEANING: Record<ContactStatus, string> = {
  active: "can be messaged",
  pending_validation: "not yet confirmed as a WhatsApp user",
  opted_out: "asked not to be messaged: every send to them is refused",
  blocked: "blocked here (suppressed): every send to them is refused",
  unreachable: "messages to them bounced",
};

/** `#/contacts?...`: a route with a query, so filters survive a reload and can be shared. */
export function hrefWithQuery(parts: string[], query: URLSearchParams): string {
  const qs = query.toString();
  return href(...parts) + (qs ? `?${qs}` : "");
}

export const displayName = (c: Pick<Contact, "name" | "phone" | "lid">) => c.name ?? c.phone ?? c.lid ?? "unknown";

export function ContactTabs({ current }: { current: "list" | "suppressions" }) {
  return (
    <nav class="tabs" aria-label="Contacts">
      <ul>
        <li>
          <a href={href("contacts")} aria-current={current === "list" ? "page" : undefined}>
            Contacts
          </a>
        </li>
        <li>
          <a href={href("contacts", "suppressions")} aria-current={current === "suppressions" ? "page" : undefined}>
            Suppression list
          </a>
        </li>
      </ul>
    </nav>
  );
}

/** A key (tag or group) as a small chip. */
export function Chip({ value, onRemove }: { value: string; onRemove?: () => void }) {
  return (
    <span class="chip" data-chip={value}>
      {value}
      {onRemove && (
        <button type="button" class="chip-remove" aria-label={`Remove ${value}`} onClick={onRemove}>
          ×
        </button>
      )}
    </span>
  );
}
