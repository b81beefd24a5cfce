/**
 * An endpoint's recent deliveries, newest first, each with its attempts; a
 * replay sends one again (same event, same webhook-id). No event tells of a
 * delivery's outcome, so the list is read again: often while one is on its
 * way, now and then otherwise.
 */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { OffsetPage, WebhookDelivery } from "../../types.ts";
import { Action, Badge, ErrorNote, Time, useLoad } from "../../ui.tsx";

const PAGE = 50;
const BUSY_POLL_MS = 1_500;
const IDLE_POLL_MS = 10_000;

const STATUS_MEANING: Record<WebhookDelivery["status"], string> = {
  pending: "on its way",
  delivered: "the endpoint answered 2xx",
  retrying: "failed; retried with backoff",
  dead: "gave up after every retry: replay it once the endpoint works",
};

/** The endpoint's last answer, in a few words. */
const answer = (d: { last_status_code: number | null; last_error: string | null }) =>
  d.last_status_code !== null ? `HTTP ${d.last_status_code}` : (d.last_error ?? "—");

export function Deliveries({ webhookId, enabled }: { webhookId: string; enabled: boolean }) {
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const list = useLoad(() => api<OffsetPage<WebhookDelivery>>(`/webhooks/${webhookId}/deliveries`, { query: { limit: PAGE, offset } }), [webhookId, offset]);
  const onItsWay = list.data?.data.some((d) => d.status === "pending") ?? false;
  useEffect(() => {
    const timer = setTimeout(list.reload, onItsWay ? BUSY_POLL_MS : IDLE_POLL_MS);
    return () => clearTimeout(timer);
  }, [list.data, onItsWay]);

  const replay = async (d: WebhookDelivery) => {
    await api(`/webhooks/${webhookId}/deliveries/${d.id}/replay`, { method: "POST" });
    list.set((page) => page && { ...page, data: page.data.map((x) => (x.id === d.id ? { ...x, status: "pending" } : x)) });
    list.reload();
  };
  const page = list.data;
  return (
    <>
      <h3>Recent deliveries</h3>
      {!enabled && <p class="muted">The endpoint is disabled: enable it again to replay a delivery.</p>}
      <ErrorNote error={list.error} />
      <table class="deliveries">
        <thead>
          <tr>
            <th>Created</th>
            <th>Event</th>
            <th>Status</th>
            <th>Attempts</th>
            <th>Last answer</th>
            <th>Next attempt / delivered</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(page?.data ?? []).map((d) => (
            <Fragment key={d.id}>
              <tr data-delivery={d.id} data-event={d.event_id}>
                <td>
                  <Time iso={d.created_at} />
                </td>
                <td>{d.event_type}</td>
                <td title={STATUS_MEANING[d.status]}>
                  <Badge value={d.status} />
                </td>
                <td>
                  <a
                    href="#"
                    aria-expanded={open === d.id}
                    onClick={(e) => {
                      e.preventDefault();
                      setOpen(open === d.id ? null : d.id);
                    }}
                  >
                    {d.attempts} {open === d.id ? "▾" : "▸"}
                  </a>
                </td>
                <td data-field="answer">{answer(d)}</td>
                <td>{d.delivered_at ? <Time iso={d.delivered_at} /> : <Time iso={d.next_attempt_at} />}</td>
                <td>
                  {enabled && d.status !== "pending" && (
                    <Action class="secondary outline" onRun={() => replay(d)}>
                      Replay
                    </Action>
                  )}
                </td>
              </tr>
              {open === d.id && (
                <tr class="attempts">
                  <td colSpan={7}>
                    <Attempts delivery={d} />
                  </td>
                </tr>
              )}
            </Fragment>
          ))}
        </tbody>
      </table>
      {page?.data.length === 0 && <p class="muted">No deliveries yet: they appear here as events this endpoint subscribes to happen.</p>}
      {page && page.total > PAGE && (
        <p class="toolbar">
          <span class="muted">
            {page.offset + 1}–{page.offset + page.data.length} of {page.total}
          </span>
          {offset > 0 && (
            <button type="button" class="secondary outline" onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              Newer
            </button>
          )}
          {offset + PAGE < page.total && (
            <button type="button" class="secondary outline" onClick={() => setOffset(offset + PAGE)}>
              Older
            </button>
          )}
        </p>
      )}
    </>
  );
}

function Attempts({ delivery }: { delivery: WebhookDelivery }) {
  return (
    <>
      <p class="muted">
        Event <code>{delivery.event_id}</code> (the <code>webhook-id</code> header, the same on every attempt and replay): {STATUS_MEANING[delivery.status]}.
      </p>
      <table class="attempt-list">
        <thead>
          <tr>
            <th>#</th>
            <th>When</th>
            <th>Answer</th>
            <th>What the endpoint said</th>
            <th>Took</th>
          </tr>
        </thead>
        <tbody>
          {delivery.history.map((a) => (
            <tr data-attempt={a.attempt}>
              <td>{a.attempt}</td>
              <td>
                <Time iso={a.at} />
              </td>
              <td class="wrap">{answer({ last_status_code: a.status_code, last_error: a.error })}</td>
              <td class="wrap" data-field="response-body">{a.response_body ? <code>{a.response_body}</code> : <span class="muted">—</span>}</td>
              <td>{a.duration_ms} ms</td>
            </tr>
          ))}
        </tbody>
      </table>
      {delivery.history.length === 0 && <p class="muted">Not attempted yet.</p>}
    </>
  );
}
