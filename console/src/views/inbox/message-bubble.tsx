/**
 * One message of a conversation as a chat shows it: who wrote it, what it
 * says (text, a file through its signed link, a place, a card, a poll with
 * its votes), the message it replies to, and where it stands (queued, sent,
 * delivered, read, failed and why).
 */
import { href } from "../../router.ts";
import type { ConversationMessage, MediaRef } from "../../types.ts";
import { Badge, Time } from "../../ui.tsx";
import { explainReason } from "../messages/reasons.ts";

export interface BubbleProps {
  message: ConversationMessage;
  /** The message it quotes, when it is loaded here. */
  quoted?: ConversationMessage;
  /** Votes per option, for a poll. */
  votes?: Map<string, number>;
  numberName: string;
  onQuote?: (message: ConversationMessage) => void;
}

export function MessageBubble({ message: m, quoted, votes, numberName, onQuote }: BubbleProps) {
  const inbound = m.direction === "inbound";
  const explained = m.status === "failed" ? explainReason(m.reason) : null;
  return (
    <article class={`bubble ${inbound ? "in" : "out"}`} data-message={m.id} data-status={m.status}>
      {(m.quoted_id || m.quoted_message_id) && m.type !== "reaction" && (
        <blockquote class="quoted" data-quoted={quoted?.id ?? ""}>
          {quoted ? snippet(quoted) : <span class="muted">a message not loaded here</span>}
        </blockquote>
      )}
      <Content message={m} quoted={quoted} votes={votes} />
      <footer>
        <small>
          <Time iso={m.created_at} /> · {inbound ? "from the customer" : m.source === "phone" ? "from the phone app" : `via ${numberName}`}
        </small>{" "}
        <Badge value={m.status} />
        {m.status === "failed" && (
          <small class="error" data-field="reason">
            {" "}
            {explained ?? m.reason ?? "failed"}
          </small>
        )}
        <small>
          {" "}
          <a href={href("messages", m.id)}>details</a>
          {onQuote && m.wa_message_id && m.status !== "deleted" && (
            <>
              {" · "}
              <a
                href="#"
                onClick={(e) => {
                  e.preventDefault();
                  onQuote(m);
                }}
              >
                reply to this
              </a>
            </>
          )}
        </small>
      </footer>
    </article>
  );
}

function Content({ message: m, quoted, votes }: { message: ConversationMessage; quoted?: ConversationMessage; votes?: Map<string, number> }) {
  if (m.status === "deleted" && !m.body && !m.media) return <p class="muted">This message was deleted.</p>;
  switch (m.type) {
    case "image":
    case "sticker":
    case "video":
    case "audio":
    case "document":
      return (
        <>
          {m.media ? <Media media={m.media} type={m.type} /> : m.media_error ? <p class="error">The file could not be kept: {m.media_error}</p> : null}
          {m.body && <p class="body">{m.body}</p>}
        </>
      );
    case "location":
      return (
        <p class="body">
          Location: {m.location?.name ?? "unnamed"}
          {m.location?.address ? `, ${m.location.address}` : ""}{" "}
          <span class="muted">
            ({m.location?.latitude}, {m.location?.longitude})
          </span>
        </p>
      );
    case "contact":
      return <p class="body">Contact card: {m.contact?.display_name ?? m.body ?? "unnamed"}</p>;
    case "reaction":
      return (
        <p class="body">
          Reacted {m.body || "(removed the reaction)"} {quoted ? <span class="muted">to “{snippet(quoted)}”</span> : null}
        </p>
      );
    case "poll":
      return <Poll message={m} votes={votes} />;
    case "poll_vote":
      return <p class="body muted">Voted: {m.poll_vote?.selected.join(", ") || "(no option)"}</p>;
    case "otp":
      return <p class="body">One-time code {m.code_masked ?? ""}</p>;
    default:
      return <p class="body">{m.body ?? <span class="muted">({m.type})</span>}</p>;
  }
}

function Media({ media, type }: { media: MediaRef; type: string }) {
  const label = `${media.filename ?? media.mime_type} · ${size(media.size)}`;
  // Our own sends keep the file's description only: the client has the file.
  if (!media.url) return <p class="muted">File: {label}</p>;
  if (type === "image" || type === "sticker") return <img class="media" src={media.url} alt={media.filename ?? type} loading="lazy" />;
  if (type === "audio") return <audio class="media" controls preload="none" src={media.url} title={media.ptt ? "Voice note" : label} />;
  if (type === "video") return <video class="media" controls preload="metadata" src={media.url} />;
  return (
    <p>
      Document:{" "}
      <a href={media.url} target="_blank" rel="noreferrer">
        {label}
      </a>
    </p>
  );
}

function Poll({ message: m, votes }: { message: ConversationMessage; votes?: Map<string, number> }) {
  if (!m.poll) return <p class="body">{m.body}</p>;
  const total = [...(votes?.values() ?? [])].reduce((a, b) => a + b, 0);
  return (
    <div class="poll" data-poll={m.wa_message_id ?? ""}>
      <p class="body">
        Poll: <strong>{m.poll.name}</strong>{" "}
        <small class="muted">
          {m.poll.selectable_count === 1 ? "one choice" : m.poll.selectable_count === 0 ? "any number of choices" : `up to ${m.poll.selectable_count} choices`} · {total}{" "}
          vote{total === 1 ? "" : "s"}
        </small>
      </p>
      <ul>
        {m.poll.options.map((option) => {
          const count = votes?.get(option) ?? 0;
          return (
            <li key={option} data-option={option}>
              {option}{" "}
              <span class="bar" aria-hidden="true">
                <span style={{ width: `${total ? (100 * count) / total : 0}%` }} />
              </span>{" "}
              <span data-field="votes">{count}</span>
            </li>
          );
        })}
      </ul>
    </div>
  );
}

/**
 * Each poll's votes from the messages loaded: a person's later vote replaces
 * their earlier one, as WhatsApp counts them. Keyed by the poll's WhatsApp id.
 */
export function pollTallies(messages: ConversationMessage[]): Map<string, Map<string, number>> {
  const latest = new Map<string, Map<string, string[]>>();
  const byTime = [...messages].sort((a, b) => a.created_at.localeCompare(b.created_at));
  for (const m of byTime) {
    if (m.type !== "poll_vote" || !m.poll_vote) continue;
    const voters = latest.get(m.poll_vote.poll_message_id) ?? new Map<string, string[]>();
    // In a conversation the voter is the customer, or the number itself from its phone app.
    voters.set(m.direction, m.poll_vote.selected);
    latest.set(m.poll_vote.poll_message_id, voters);
  }
  const tallies = new Map<string, Map<string, number>>();
  for (const [poll, voters] of latest) {
    const counts = new Map<string, number>();
    for (const selected of voters.values()) for (const option of selected) counts.set(option, (counts.get(option) ?? 0) + 1);
    tallies.set(poll, counts);
  }
  return tallies;
}

export function snippet(m: ConversationMessage): string {
  const text = m.body ?? m.poll?.name ?? m.media?.filename ?? `(${m.type})`;
  return text.length > 120 ? `${text.slice(0, 117)}…` : text;
}

function size(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(0)} KB`;
  return `${(bytes / 1024 / 1024).toFixed(1)} MB`;
}
