/**
 * One conversation: its messages oldest at the top, newest at the bottom,
 * as a chat shows them, kept current by live events; a reply box that
 * sends through the number that holds the conversation; and "mark read".
 */
import { useEffect, useLayoutEffect, useRef, useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { PomboEvent } from "../../events.ts";
import type { Conversation, ConversationMessage } from "../../types.ts";
import { Action, ErrorNote } from "../../ui.tsx";
import { useCursorList } from "../messages/cursor-list.ts";
import type { Numbers } from "../messages/numbers.tsx";
import { MessageBubble, pollTallies, snippet } from "./message-bubble.tsx";
import { WindowNote } from "./window.tsx";

interface Accepted {
  id: string;
  status: "queued";
  instance_id: string;
  chat_jid: string;
  reference: string | null;
}

export function ConversationPane(props: {
  chatJid: string;
  /** The conversation as the list has it; absent while it is not among the rows loaded there. */
  conversation?: Conversation;
  lastEvent: PomboEvent | null;
  numbers: Numbers;
  onChanged: () => void;
}) {
  const { chatJid, conversation: c, numbers } = props;
  const messages = useCursorList<ConversationMessage>(`/conversations/${encodeURIComponent(chatJid)}/messages`, {}, chatJid);

  // A message event about this conversation: read its newest messages again.
  useEffect(() => {
    const e = props.lastEvent;
    if (!e) return;
    const payload = (e.payload ?? {}) as Record<string, unknown>;
    const ours = (c && e.conversation_id === c.id) || [payload.chat_jid, payload.from, payload.to].includes(chatJid);
    if (ours) messages.refresh();
  }, [props.lastEvent]);

  const shown = [...messages.items].reverse();
  const byId = new Map<string, ConversationMessage>();
  for (const m of shown) {
    byId.set(m.id, m);
    if (m.wa_message_id) byId.set(m.wa_message_id, m);
  }
  const tallies = pollTallies(shown);
  // The number that holds the conversation answers; else the one that last spoke in it.
  const from = c?.instance_id ?? messages.items[0]?.instance_id;

  // Keep the newest message in view as messages arrive (not when older ones are paged in above).
  const scroller = useRef<HTMLDivElement>(null);
  const newest = messages.items[0]?.id;
  useLayoutEffect(() => {
    const el = scroller.current;
    if (el) el.scrollTop = el.scrollHeight;
  }, [newest]);

  const [quote, setQuote] = useState<ConversationMessage | null>(null);

  return (
    <article class="conversation" data-chat={chatJid}>
      <header>
        <div class="toolbar">
          <hgroup>
            <h3>{c?.contact.name ?? c?.contact.phone ?? chatJid}</h3>
            <p class="muted">
              {c?.contact.phone ?? chatJid} · through {numbers.nameOf(from)}
            </p>
          </hgroup>
          {c && (
            <span data-field="unread" class="muted">
              {c.unread_count} unread
            </span>
          )}
          <Action
            class="secondary"
            onRun={async () => {
              await api(`/conversations/${encodeURIComponent(chatJid)}/read`, { method: "POST" });
              props.onChanged();
            }}
          >
            Mark read
          </Action>
        </div>
        {c && (
          <small class={c.window_open ? "" : "muted"} data-field="window">
            <WindowNote conversation={c} />
          </small>
        )}
      </header>
      <ErrorNote error={messages.error} />
      <div class="chat" ref={scroller}>
        {messages.more && <Action onRun={messages.loadMore}>Load older messages</Action>}
        {shown.map((m) => (
          <MessageBubble
            key={m.id}
            message={m}
            quoted={byId.get(m.quoted_message_id ?? "") ?? byId.get(m.quoted_id ?? "")}
            votes={m.type === "poll" && m.wa_message_id ? tallies.get(m.wa_message_id) : undefined}
            numberName={numbers.nameOf(m.instance_id)}
            onQuote={setQuote}
          />
        ))}
        {!messages.loading && shown.length === 0 && <p class="muted">No messages in this conversation.</p>}
      </div>
      <footer>
        <ReplyBox
          chatJid={chatJid}
          instanceId={from}
          quote={quote}
          onUnquote={() => setQuote(null)}
          onAccepted={(accepted, body) => {
            setQuote(null);
            // Shown at once as queued; its statuses follow from events.
            messages.prepend({
              id: accepted.id,
              direction: "outbound",
              status: "queued",
              reason: null,
              instance_id: accepted.instance_id,
              chat_jid: accepted.chat_jid,
              wa_message_id: null,
              reference: accepted.reference,
              type: "text",
              body,
              ...(quote ? { quoted_message_id: quote.id } : {}),
              created_at: new Date().toISOString(),
            });
            props.onChanged();
          }}
        />
      </footer>
    </article>
  );
}

function ReplyBox(props: {
  chatJid: string;
  instanceId: string | undefined;
  quote: ConversationMessage | null;
  onUnquote: () => void;
  onAccepted: (accepted: Accepted, body: string) => void;
}) {
  const [body, setBody] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const send = async (e?: Event) => {
    e?.preventDefault();
    const text = body.trim();
    if (!text || busy) return;
    setBusy(true);
    setError(undefined);
    try {
      const accepted = await api<Accepted>("/messages/text", {
        method: "POST",
        body: { to: props.chatJid, body: text, instance_id: props.instanceId, quoted_message_id: props.quote?.id },
      });
      setBody("");
      props.onAccepted(accepted, text);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <form class="reply" onSubmit={send}>
      {props.quote && (
        <p class="quoting">
          <small>
            Replying to “{snippet(props.quote)}”{" "}
            <a
              href="#"
              onClick={(e) => {
                e.preventDefault();
                props.onUnquote();
              }}
            >
              cancel
            </a>
          </small>
        </p>
      )}
      <fieldset role="group">
        <textarea
          name="reply"
          aria-label="Reply"
          placeholder="Write a reply… (Ctrl+Enter sends)"
          rows={2}
          value={body}
          onInput={(e) => setBody(e.currentTarget.value)}
          onKeyDown={(e) => {
            if (e.key === "Enter" && (e.ctrlKey || e.metaKey)) void send();
          }}
        />
        <button type="submit" aria-busy={busy} disabled={busy || !body.trim()}>
          Send
        </button>
      </fieldset>
      <ErrorNote error={error} />
    </form>
  );
}
