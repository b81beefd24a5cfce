/**
 * One message (#/messages/<id>): what it says, where it stands and how it
 * got there (its status history), why it failed in plain words, its edits;
 * cancel it while it is queued, or delete a sent one for everyone.
 */
import type { ComponentChildren } from "preact";
import { api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href } from "../../router.ts";
import type { MessageDetail } from "../../types.ts";
import { Action, Badge, ErrorNote, Time, useLoad } from "../../ui.tsx";
import { MESSAGE_EVENTS } from "./live.ts";
import type { Numbers } from "./numbers.tsx";
import { explainReason } from "./reasons.ts";

const DELETABLE = new Set(["sent", "delivered", "read", "played"]);

export function MessageDetailView({ id, numbers }: { id: string; numbers: Numbers }) {
  const message = useLoad(() => api<MessageDetail>(`/messages/${encodeURIComponent(id)}`), [id]);
  useEvents(MESSAGE_EVENTS, (e) => {
    if ((e.payload as { message_id?: string } | undefined)?.message_id === id) message.reload();
  });
  const m = message.data;
  const act = (confirmText: string, label: string) => (
    <Action
      class="contrast"
      confirm={confirmText}
      onRun={async () => {
        const after = await api<MessageDetail>(`/messages/${encodeURIComponent(id)}`, { method: "DELETE" });
        message.set(() => after);
      }}
    >
      {label}
    </Action>
  );
  return (
    <section class="message-detail">
      <p>
        <a href="#" onClick={(e) => (e.preventDefault(), history.back())}>
          ← Back
        </a>
      </p>
      <ErrorNote error={message.error} />
      {m && (
        <>
          <div class="toolbar">
            <h2>
              {m.direction === "inbound" ? "Received" : "Sent"} {m.type}
            </h2>
            <Badge value={m.status} />
            {m.direction === "outbound" && m.status === "queued" && act("Cancel this message? It is still queued and will never be sent.", "Cancel message")}
            {m.direction === "outbound" &&
              DELETABLE.has(m.status) &&
              act("Delete this message for everyone? The customer will see “This message was deleted”.", "Delete for everyone")}
          </div>
          {m.reason && (
            <article class={m.status === "failed" ? "failure" : ""} data-field="reason">
              <strong>{m.status === "failed" ? "Why it failed: " : "Why: "}</strong>
              {explainReason(m.reason) ?? "WhatsApp or the fleet gave this reason."} <code>{m.reason}</code>
            </article>
          )}
          <article>
            <p class="body">{textOf(m) || <span class="muted">({m.type})</span>}</p>
            <details>
              <summary>Stored content</summary>
              <pre>{JSON.stringify(m.content, null, 2)}</pre>
            </details>
          </article>
          <table class="fields">
            <tbody>
              <Field name="Number">{numbers.nameOf(m.instance_id)}</Field>
              <Field name="Chat">{m.conversation_id ? <a href={href("inbox", m.chat_jid)}>{m.chat_jid}</a> : m.chat_jid}</Field>
              <Field name="Reference">{m.reference ?? "—"}</Field>
              <Field name="WhatsApp id">{m.wa_message_id ?? "— (not sent yet)"}</Field>
              <Field name="Created">
                <Time iso={m.created_at} /> <small class="muted">{new Date(m.created_at).toLocaleString()}</small>
              </Field>
              {m.sent_at && (
                <Field name="Sent">
                  <Time iso={m.sent_at} />
                </Field>
              )}
              {m.read_at && (
                <Field name="Read by the number">
                  <Time iso={m.read_at} />
                </Field>
              )}
              {m.from_me && <Field name="Written">on the number's own phone app</Field>}
              <Field name="Message id">
                <code>{m.id}</code>
              </Field>
            </tbody>
          </table>
          <h3>Status history</h3>
          <table class="history">
            <thead>
              <tr>
                <th>Status</th>
                <th>When</th>
                <th>Reason</th>
              </tr>
            </thead>
            <tbody>
              {m.history.map((h, i) => (
                <tr key={i} data-status={h.status}>
                  <td>
                    <Badge value={h.status} />
                  </td>
                  <td>
                    <Time iso={h.at} /> <small class="muted">{new Date(h.at).toLocaleTimeString()}</small>
                  </td>
                  <td class="wrap">{h.reason ? <span title={explainReason(h.reason) ?? undefined}>{h.reason}</span> : <span class="muted">—</span>}</td>
                </tr>
              ))}
            </tbody>
          </table>
          {m.edits.length > 0 && (
            <>
              <h3>Edits</h3>
              <table>
                <thead>
                  <tr>
                    <th>When</th>
                    <th>By</th>
                    <th>Before</th>
                    <th>After</th>
                  </tr>
                </thead>
                <tbody>
                  {m.edits.map((e, i) => (
                    <tr key={i}>
                      <td>
                        <Time iso={e.at} />
                      </td>
                      <td>{e.by === "api" ? "through the API" : e.by === "customer" ? "the customer" : "the phone app"}</td>
                      <td class="wrap">{e.previous_body ?? "—"}</td>
                      <td class="wrap">{e.body}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </>
          )}
        </>
      )}
    </section>
  );
}

function Field({ name, children }: { name: string; children: ComponentChildren }) {
  return (
    <tr>
      <th scope="row">{name}</th>
      <td class="wrap">{children}</td>
    </tr>
  );
}

/** What a person reads of a message, from its stored content (ours keep the request, received ones 002's fields). */
export function textOf(m: { content: Record<string, unknown> }): string {
  const c = m.content as Record<string, any>;
  return String(c.body ?? c.text ?? c.caption ?? c.media?.caption ?? c.name ?? c.emoji ?? c.contact_name ?? c.code_masked ?? c.media?.filename ?? "");
}
