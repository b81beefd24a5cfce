/** The CRM list: filters (search, status, tag, group, sort) kept in the hash, and pages of 50. */
import { useEffect, useRef } from "preact/hooks";
import { allPages, api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href } from "../../router.ts";
import type { Contact, ContactKey, OffsetPage } from "../../types.ts";
import { Badge, ErrorNote, Time, useLoad } from "../../ui.tsx";
import { CONTACT_STATUSES, Chip, displayName, hrefWithQuery } from "./common.tsx";

const PAGE = 50;
/** A busy project hears many messages a second: the list is read again at most this often. */
const LIVE_MS = 3_000;
const FILTERS = ["search", "status", "tags", "groups", "sort"] as const;

export function ContactList({ query }: { query: URLSearchParams }) {
  const offset = Number(query.get("offset") ?? 0) || 0;
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) ?? undefined]));
  const key = query.toString();
  const contacts = useLoad(() => api<OffsetPage<Contact>>("/contacts", { query: { ...filters, limit: PAGE, offset } }), [key]);
  const tags = useLoad(() => allPages<ContactKey>("/tags"), []);
  const groups = useLoad(() => allPages<ContactKey>("/contact-groups"), []);
  useLiveReload(offset === 0 ? contacts.reload : null);

  const apply = (e: Event) => {
    e.preventDefault();
    const form = new FormData(e.currentTarget as HTMLFormElement);
    const next = new URLSearchParams();
    for (const f of FILTERS) {
      const v = String(form.get(f) ?? "").trim();
      if (v) next.set(f, v);
    }
    location.hash = hrefWithQuery(["contacts"], next);
  };
  const pageAt = (at: number) => {
    const next = new URLSearchParams(query);
    if (at > 0) next.set("offset", String(at));
    else next.delete("offset");
    return hrefWithQuery(["contacts"], next);
  };
  const page = contacts.data;
  const filtered = FILTERS.some((f) => query.get(f));

  return (
    <>
      <h2>Contacts</h2>
      <form class="toolbar filters" onSubmit={apply} key={key}>
        <input type="search" name="search" placeholder="Name, phone, email or document" defaultValue={filters.search} aria-label="Search" />
        <select name="status" aria-label="Status" defaultValue={filters.status ?? ""}>
          <option value="">Any status</option>
          {CONTACT_STATUSES.map((s) => (
            <option value={s}>{s.replace("_", " ")}</option>
          ))}
        </select>
        <select name="tags" aria-label="Tag" defaultValue={filters.tags ?? ""}>
          <option value="">Any tag</option>
          {(tags.data ?? []).map((t) => (
            <option value={t.key}>
              {t.name} ({t.count})
            </option>
          ))}
        </select>
        <select name="groups" aria-label="Group" defaultValue={filters.groups ?? ""}>
          <option value="">Any group</option>
          {(groups.data ?? []).map((g) => (
            <option value={g.key}>
              {g.name} ({g.count})
            </option>
          ))}
        </select>
        <select name="sort" aria-label="Sort" defaultValue={filters.sort ?? "last_activity"}>
          <option value="last_activity">Last message first</option>
          <option value="name">Name A–Z</option>
          <option value="created">Newest first</option>
        </select>
        <button type="submit">Filter</button>
        {filtered && (
          <a href={href("contacts")} role="button" class="secondary outline">
            Clear
          </a>
        )}
      </form>
      <ErrorNote error={contacts.error} />
      <table aria-busy={contacts.loading}>
        <thead>
          <tr>
            <th>Name</th>
            <th>Phone</th>
            <th>Status</th>
            <th>Tags</th>
            <th>Messages</th>
            <th>Last message</th>
          </tr>
        </thead>
        <tbody>
          {(page?.data ?? []).map((c) => (
            <tr key={c.id} data-contact={c.id}>
              <td>
                <a href={href("contacts", c.id)}>{displayName(c)}</a>
              </td>
              <td>{c.phone ?? <span class="muted">LID only</span>}</td>
              <td>
                <Badge value={c.status} />
              </td>
              <td class="wrap">
                {c.tags.map((t) => (
                  <Chip value={t} />
                ))}
              </td>
              <td>{c.message_count}</td>
              <td>
                <Time iso={c.last_message_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page && page.data.length === 0 && (
        <p class="muted">
          {filtered
            ? "No contact matches these filters."
            : "No contacts yet. A contact appears when someone writes to one of your numbers, when you send to them, or when you import them (POST /contacts/import)."}
        </p>
      )}
      {page && page.total > PAGE && (
        <p class="toolbar">
          <span class="muted">
            {page.offset + 1}–{page.offset + page.data.length} of {page.total}
          </span>
          {offset > 0 && <a href={pageAt(Math.max(0, offset - PAGE))}>← Previous</a>}
          {offset + PAGE < page.total && <a href={pageAt(offset + PAGE)}>Next →</a>}
        </p>
      )}
    </>
  );
}

/** Reads the first page again when someone writes (a new contact, a new last message), at most every LIVE_MS. */
function useLiveReload(reload: (() => void) | null) {
  const timer = useRef<ReturnType<typeof setTimeout> | undefined>(undefined);
  const last = useRef(0);
  useEffect(() => () => clearTimeout(timer.current), []);
  const soon = () => {
    if (!reload || timer.current) return;
    timer.current = setTimeout(
      () => {
        timer.current = undefined;
        last.current = Date.now();
        reload();
      },
      Math.max(0, last.current + LIVE_MS - Date.now()),
    );
  };
  // Someone who wrote before the stream opened is not streamed: read again once it is live.
  useEvents(["message.received"], soon, (state) => state === "live" && soon());
}
