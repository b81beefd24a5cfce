/** A contact's timeline, newest first: their messages and what happened to them (notes, tags, opt-outs), with a note form. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { Page, TimelineEntry } from "../../types.ts";
import { Badge, ErrorNote, Time, useSubmit } from "../../ui.tsx";

const ACTORS: Record<string, string> = {
  contact: "the contact",
  api: "the API",
  phone: "the number's phone",
  system: "Pombo",
  admin: "an operator",
};

/** An event in plain words. */
function describe(e: TimelineEntry): string {
  const p = e.payload as Record<string, string | undefined>;
  const why = p.note ? ` (${p.note})` : "";
  switch (e.type) {
    case "note":
      return p.body ?? "";
    case "opted_out":
      return `Opted out${why}`;
    case "suppressed":
      return `Put on the suppression list, reason ${p.reason}${why}`;
    case "opted_in":
      return "Opted back in: off the suppression list";
    case "status_changed":
      return `Status ${p.from} → ${p.to}`;
    case "tag_added":
      return `Tag ${p.tag} added`;
    case "tag_removed":
      return `Tag ${p.tag} removed`;
    case "group_added":
      return `Added to group ${p.group}`;
    case "group_removed":
      return `Removed from group ${p.group}`;
    default:
      return e.type.replace(/_/g, " ");
  }
}

function MessageBody({ entry }: { entry: TimelineEntry }) {
  const p = entry.payload as { body?: string; caption?: string; media?: { url?: string } };
  const text = p.body ?? p.caption;
  return (
    <>
      {text ? <span class="body">{text}</span> : <span class="muted">[{entry.type}]</span>}
      {p.media?.url && (
        <>
          {" "}
          <a href={p.media.url} target="_blank" rel="noreferrer">
            open {entry.type}
          </a>
        </>
      )}
    </>
  );
}

export function Timeline({ contactId, version }: { contactId: string; version: number }) {
  const [entries, setEntries] = useState<TimelineEntry[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [error, setError] = useState<unknown>();
  const [loading, setLoading] = useState(true);

  const load = async (after?: string) => {
    setLoading(true);
    try {
      const page = await api<Page<TimelineEntry>>(`/contacts/${contactId}/history`, { query: { limit: 50, cursor: after } });
      setEntries((old) => (after ? [...old, ...page.data] : page.data));
      setCursor(page.next_cursor ?? null);
      setError(undefined);
    } catch (err) {
      setError(err);
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => void load(), [contactId, version]);

  return (
    <article class="timeline">
      <h4>Timeline</h4>
      <NoteForm contactId={contactId} onAdded={(note) => setEntries((old) => [note, ...old])} />
      <ErrorNote error={error} />
      <ol aria-busy={loading}>
        {entries.map((e) => (
          <li key={e.id} data-entry={e.kind} data-type={e.type} class={e.kind === "message" ? `message ${e.direction}` : `event ${e.type}`}>
            <small class="muted">
              <Time iso={e.created_at} /> ·{" "}
              {e.kind === "message" ? (e.direction === "inbound" ? "they wrote" : `sent by ${ACTORS[e.actor] ?? e.actor}`) : `by ${ACTORS[e.actor] ?? e.actor}`}
              {e.status && (
                <>
                  {" "}
                  <Badge value={e.status} />
                </>
              )}
            </small>
            <div>{e.kind === "message" ? <MessageBody entry={e} /> : e.type === "note" ? <blockquote>{describe(e)}</blockquote> : describe(e)}</div>
          </li>
        ))}
      </ol>
      {!loading && entries.length === 0 && <p class="muted">Nothing yet: messages, notes and changes to this contact show here.</p>}
      {cursor && (
        <button type="button" class="secondary outline" onClick={() => void load(cursor)}>
          Load older
        </button>
      )}
    </article>
  );
}

function NoteForm({ contactId, onAdded }: { contactId: string; onAdded: (note: TimelineEntry) => void }) {
  const [body, setBody] = useState("");
  const { busy, error, submit } = useSubmit(async () => {
    if (!body.trim()) return;
    onAdded(await api<TimelineEntry>(`/contacts/${contactId}/notes`, { method: "POST", body: { body } }));
    setBody("");
  });
  return (
    <form onSubmit={submit}>
      <textarea
        name="note"
        rows={2}
        placeholder="An internal note (never sent to the contact)"
        aria-label="Note"
        value={body}
        onInput={(e) => setBody(e.currentTarget.value)}
      />
      <button type="submit" aria-busy={busy} disabled={busy}>
        Add note
      </button>
      <ErrorNote error={error} />
    </form>
  );
}
