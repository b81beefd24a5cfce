/**
 * Inbox (#/inbox, #/inbox/<chat_jid>): each customer's one conversation
 * across the project's numbers, newest activity first, with what is unread
 * and whether the 24-hour window is open; the open conversation beside it.
 * Message events move a conversation up and refresh the open one.
 */
import { useState } from "preact/hooks";
import { type PomboEvent, type StreamState, useEvents } from "../events.ts";
import { href } from "../router.ts";
import type { Route } from "../router.ts";
import type { Conversation } from "../types.ts";
import { Action, Badge, ErrorNote, Time } from "../ui.tsx";
import { ConversationPane } from "./inbox/conversation.tsx";
import { WindowNote } from "./inbox/window.tsx";
import { useCursorList } from "./messages/cursor-list.ts";
import { MESSAGE_EVENTS, useDebounced } from "./messages/live.ts";
import { NumberSelect, useNumbers } from "./messages/numbers.tsx";

export function InboxView({ route }: { route: Route }) {
  const numbers = useNumbers();
  const [number, setNumber] = useState("");
  const list = useCursorList<Conversation>("/conversations", { instance_id: number || undefined }, number);
  const [lastEvent, setLastEvent] = useState<PomboEvent | null>(null);
  const [stream, setStream] = useState<StreamState>("connecting");
  const refreshSoon = useDebounced(list.refresh, 200);
  useEvents(
    MESSAGE_EVENTS,
    (event) => {
      // Group messages belong to no conversation.
      if (event.conversation_id === null) return;
      setLastEvent(event);
      refreshSoon();
    },
    setStream,
  );

  const openJid = route.parts[0];
  const open = list.items.find((c) => c.chat_jid === openJid);
  return (
    <section class="inbox">
      <div class="toolbar">
        <h2>Inbox</h2>
        <NumberSelect numbers={numbers} value={number} onChange={setNumber} label="Only conversations held by this number" />
        <small class="muted" data-stream={stream}>
          {stream === "live" ? "● live" : stream === "retrying" ? "reconnecting…" : "connecting…"}
        </small>
      </div>
      <ErrorNote error={list.error ?? numbers.error} />
      <div class="split">
        <div class="conversations">
          <table>
            <thead>
              <tr>
                <th>Customer</th>
                <th>Last message</th>
                <th>Unread</th>
                <th>Window</th>
              </tr>
            </thead>
            <tbody>
              {list.items.map((c) => (
                <tr key={c.id} data-conversation={c.chat_jid} aria-current={c.chat_jid === openJid ? "true" : undefined}>
                  <td>
                    <a href={href("inbox", c.chat_jid)}>{c.contact.name ?? c.contact.phone ?? c.chat_jid}</a>
                    {c.contact.name && c.contact.phone && (
                      <>
                        <br />
                        <small class="muted">{c.contact.phone}</small>
                      </>
                    )}
                    <br />
                    <small class="muted" title="The number that talks to this customer">
                      ☎ {numbers.nameOf(c.instance_id)}
                    </small>
                  </td>
                  <td class="wrap">
                    {c.last_message && (
                      <>
                        <small>
                          {c.last_message.direction === "outbound" ? "You: " : ""}
                          {clip(c.last_message.body ?? `(${c.last_message.type})`)}
                        </small>
                        <br />
                        <small class="muted">
                          <Time iso={c.last_message_at} />
                        </small>
                      </>
                    )}
                  </td>
                  <td data-field="unread">{c.unread_count > 0 ? <mark>{c.unread_count}</mark> : <span class="muted">0</span>}</td>
                  <td data-field="window">
                    {c.window_open ? <Badge value="open" /> : <span class="muted">closed</span>}
                    {c.window_open && (
                      <>
                        <br />
                        <small class="muted">
                          <WindowNote conversation={c} short />
                        </small>
                      </>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
          {!list.loading && list.items.length === 0 && !list.error && (
            <p class="muted">
              No conversations{number ? " on this number" : ""} yet. One starts when a customer writes to one of your numbers, or when you send to
              someone.
            </p>
          )}
          {list.more && <Action onRun={list.loadMore}>Load more</Action>}
        </div>
        <div>
          {openJid ? (
            <ConversationPane key={openJid} chatJid={openJid} conversation={open} lastEvent={lastEvent} numbers={numbers} onChanged={list.refresh} />
          ) : (
            <article class="muted">Pick a conversation to read it and reply.</article>
          )}
        </div>
      </div>
    </section>
  );
}

const clip = (text: string) => (text.length > 80 ? `${text.slice(0, 77)}…` : text);
