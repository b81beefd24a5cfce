/**
 * Messages (#/messages?status=...&reference=..., #/messages/<id>): search
 * the project's messages, sent and received, by status, number, direction,
 * chat, reference, type and time; open one to see its history, why it
 * failed, and to cancel it while it is queued. The search lives in the
 * URL's hash, so going back from a message returns to the same results.
 */
import { useState } from "preact/hooks";
import { useEvents } from "../events.ts";
import { href } from "../router.ts";
import type { Route } from "../router.ts";
import type { MessageStatus, MessageSummary } from "../types.ts";
import { Action, Badge, ErrorNote, Time } from "../ui.tsx";
import { useCursorList } from "./messages/cursor-list.ts";
import { MESSAGE_EVENTS, useDebounced } from "./messages/live.ts";
import { MessageDetailView, textOf } from "./messages/message-detail.tsx";
import { NumberSelect, type Numbers, useNumbers } from "./messages/numbers.tsx";
import { explainReason } from "./messages/reasons.ts";

const STATUSES: MessageStatus[] = ["queued", "sent", "delivered", "read", "played", "failed", "received", "canceled", "deleted"];
const TYPES = ["text", "image", "video", "audio", "document", "sticker", "location", "contact", "reaction", "poll", "poll_vote", "buttons", "list", "otp"];
/** The filters GET /messages takes, as the hash carries them. */
const FILTERS = ["status", "instance_id", "direction", "to", "reference", "type", "since", "until"] as const;
type Filters = Partial<Record<(typeof FILTERS)[number], string>>;

export function MessagesView({ route }: { route: Route }) {
  const numbers = useNumbers();
  if (route.parts[0]) return <MessageDetailView id={route.parts[0]} numbers={numbers} />;
  const filters: Filters = {};
  for (const f of FILTERS) {
    const v = route.query.get(f);
    if (v) filters[f] = v;
  }
  return <MessageSearch filters={filters} numbers={numbers} />;
}

function MessageSearch({ filters, numbers }: { filters: Filters; numbers: Numbers }) {
  const key = JSON.stringify(filters);
  const results = useCursorList<MessageSummary>("/messages", filters, key);
  const refreshSoon = useDebounced(results.refresh, 300);
  // What moved before the stream opened is not streamed: read again once it is live.
  useEvents(MESSAGE_EVENTS, refreshSoon, (state) => state === "live" && refreshSoon());
  return (
    <section>
      <h2>Messages</h2>
      <SearchForm key={key} filters={filters} numbers={numbers} />
      <ErrorNote error={results.error} />
      <table class="messages">
        <thead>
          <tr>
            <th>Created</th>
            <th>Number</th>
            <th>Chat</th>
            <th>Way</th>
            <th>Type</th>
            <th>Message</th>
            <th>Status</th>
            <th>Reference</th>
          </tr>
        </thead>
        <tbody>
          {results.items.map((m) => (
            <tr key={m.id} data-message={m.id}>
              <td>
                <a href={href("messages", m.id)}>
                  <Time iso={m.created_at} />
                </a>
              </td>
              <td>
                <small>{numbers.nameOf(m.instance_id)}</small>
              </td>
              <td>
                <small title={m.chat_jid}>{chatOf(m.chat_jid)}</small>
              </td>
              <td>{m.direction === "inbound" ? "in" : "out"}</td>
              <td>{m.type}</td>
              <td class="wrap">
                <a href={href("messages", m.id)}>{clip(textOf(m)) || <span class="muted">({m.type})</span>}</a>
              </td>
              <td>
                <Badge value={m.status} />
                {m.reason && (
                  <>
                    <br />
                    <small class="muted" title={explainReason(m.reason) ?? undefined}>
                      {m.reason}
                    </small>
                  </>
                )}
              </td>
              <td>{m.reference ?? <span class="muted">—</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {!results.loading && results.items.length === 0 && !results.error && (
        <p class="muted">{Object.keys(filters).length ? "No message matches this search." : "No messages yet: sends and received messages show here."}</p>
      )}
      {results.more && <Action onRun={results.loadMore}>Load more</Action>}
    </section>
  );
}

function SearchForm({ filters, numbers }: { filters: Filters; numbers: Numbers }) {
  const [draft, setDraft] = useState<Filters>(filters);
  const set = (f: keyof Filters, v: string) => setDraft((d) => ({ ...d, [f]: v }));
  const statuses = new Set((draft.status ?? "").split(",").filter(Boolean));
  const toggle = (s: string) => {
    const next = new Set(statuses);
    if (next.has(s)) next.delete(s);
    else next.add(s);
    set("status", STATUSES.filter((x) => next.has(x)).join(","));
  };
  const search = (e: Event) => {
    e.preventDefault();
    const params = new URLSearchParams();
    for (const f of FILTERS) {
      const v = draft[f]?.trim();
      if (v) params.set(f, v);
    }
    location.hash = `#/messages${params.size ? `?${params}` : ""}`;
  };
  return (
    <form class="search" onSubmit={search}>
      <div class="toolbar">
        <details class="dropdown">
          <summary>{statuses.size ? `Status: ${[...statuses].join(", ")}` : "Any status"}</summary>
          <ul>
            {STATUSES.map((s) => (
              <li key={s}>
                <label>
                  <input type="checkbox" name="status" value={s} checked={statuses.has(s)} onChange={() => toggle(s)} />
                  {s}
                </label>
              </li>
            ))}
          </ul>
        </details>
        <NumberSelect numbers={numbers} value={draft.instance_id ?? ""} onChange={(v) => set("instance_id", v)} label="Number" />
        <select name="direction" aria-label="Direction" value={draft.direction ?? ""} onChange={(e) => set("direction", e.currentTarget.value)}>
          <option value="">Sent and received</option>
          <option value="outbound">Sent</option>
          <option value="inbound">Received</option>
        </select>
        <select name="type" aria-label="Type" value={draft.type ?? ""} onChange={(e) => set("type", e.currentTarget.value)}>
          <option value="">Any type</option>
          {TYPES.map((t) => (
            <option key={t} value={t}>
              {t}
            </option>
          ))}
        </select>
      </div>
      <div class="toolbar">
        <input name="to" aria-label="Chat" placeholder="Chat: phone or JID" value={draft.to ?? ""} onInput={(e) => set("to", e.currentTarget.value)} />
        <input name="reference" aria-label="Reference" placeholder="Reference" value={draft.reference ?? ""} onInput={(e) => set("reference", e.currentTarget.value)} />
        <label>
          <small>From</small>{" "}
          <input type="datetime-local" name="since" value={localOf(draft.since)} onInput={(e) => set("since", isoOf(e.currentTarget.value))} />
        </label>
        <label>
          <small>Before</small>{" "}
          <input type="datetime-local" name="until" value={localOf(draft.until)} onInput={(e) => set("until", isoOf(e.currentTarget.value))} />
        </label>
        <button type="submit">Search</button>
        {Object.keys(filters).length > 0 && (
          <a href={href("messages")} class="secondary">
            Clear
          </a>
        )}
      </div>
    </form>
  );
}

/** A customer's phone JID reads as their phone; groups and LIDs stay as they are. */
const chatOf = (jid: string) => (/^\d+@s\.whatsapp\.net$/.test(jid) ? `+${jid.split("@")[0]}` : jid);

const clip = (text: string) => (text.length > 90 ? `${text.slice(0, 87)}…` : text);

/** A datetime-local field's value (local time, no zone) for an ISO instant, and back. */
function localOf(iso: string | undefined): string {
  if (!iso) return "";
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return "";
  return new Date(d.getTime() - d.getTimezoneOffset() * 60_000).toISOString().slice(0, 16);
}
function isoOf(local: string): string {
  return local ? new Date(local).toISOString() : "";
}
