/** One webhook endpoint: its health and settings, re-enable, rotate the secret, delete; and its recent deliveries. */
import { useState } from "preact/hooks";
import { api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href, navigate } from "../../router.ts";
import type { Webhook } from "../../types.ts";
import { Action, ErrorNote, Time, useLoad, useSubmit } from "../../ui.tsx";
import { Deliveries } from "./deliveries.tsx";
import { EventFilters } from "./event-filters.tsx";
import { EndpointHealth } from "./health.tsx";
import { SecretOnce } from "./secret.tsx";

export function WebhookEndpoint({ id }: { id: string }) {
  const hook = useLoad(() => api<Webhook>(`/webhooks/${encodeURIComponent(id)}`), [id]);
  const [secret, setSecret] = useState<string | null>(null);
  useEvents(["webhook.disabled"], (e) => {
    if ((e.payload as { webhook_id?: string } | undefined)?.webhook_id === id) hook.reload();
  });
  const patch = async (body: Record<string, unknown>) => {
    const { secret: shown, ...after } = await api<Webhook>(`/webhooks/${id}`, { method: "PATCH", body });
    hook.set(() => after);
    if (shown) setSecret(shown);
  };
  const h = hook.data;
  const alert = h?.kind === "alert";
  return (
    <section>
      <p>
        <a href={href("webhooks")}>← Webhooks</a>
      </p>
      <ErrorNote error={hook.error} />
      {h && (
        <>
          <hgroup>
            <h2 class="wrap-anywhere">{h.url}</h2>
            <p>
              <EndpointHealth hook={h} />
            </p>
          </hgroup>
          {secret && <SecretOnce secret={secret} onDone={() => setSecret(null)} />}
          <table class="details">
            <tbody>
              <tr>
                <th scope="row">Events</th>
                <td class="wrap">{h.events.join(", ")}</td>
              </tr>
              <tr>
                <th scope="row">Description</th>
                <td class="wrap">{h.description ?? "—"}</td>
              </tr>
              <tr>
                <th scope="row">Added</th>
                <td>
                  <Time iso={h.created_at} />
                </td>
              </tr>
            </tbody>
          </table>
          {alert && <p class="muted">This is the project's alert URL: change its address in Settings (alert_url).</p>}
          <div class="toolbar">
            {h.enabled ? (
              <Action class="secondary" onRun={() => patch({ enabled: false })} confirm="Disable this endpoint? Events stop going to it until you enable it again.">
                Disable
              </Action>
            ) : (
              <Action onRun={() => patch({ enabled: true })}>Enable again</Action>
            )}
            <Action
              class="secondary"
              onRun={() => patch({ rotate_secret: true })}
              confirm="Rotate the signing secret? The old one stops working at once: deliveries are signed with the new one from now on."
            >
              Rotate secret
            </Action>
            {!alert && (
              <Action
                class="secondary outline"
                onRun={async () => {
                  await api(`/webhooks/${id}`, { method: "DELETE" });
                  navigate("webhooks");
                }}
                confirm={`Delete the endpoint ${h.url} and its delivery log? This cannot be undone.`}
              >
                Delete
              </Action>
            )}
          </div>
          {!alert && <EditEndpoint hook={h} onSave={patch} />}
          <Deliveries webhookId={id} enabled={h.enabled} />
        </>
      )}
    </section>
  );
}

function EditEndpoint({ hook, onSave }: { hook: Webhook; onSave: (body: Record<string, unknown>) => Promise<void> }) {
  const [form, setForm] = useState({ url: hook.url, description: hook.description ?? "", events: hook.events });
  const { busy, error, submit } = useSubmit(() => onSave({ url: form.url, events: form.events, description: form.description.trim() || null }));
  return (
    <details>
      <summary>Edit URL, events and description</summary>
      <form onSubmit={submit}>
        <label>
          URL
          <input type="url" required value={form.url} onInput={(e) => setForm({ ...form, url: e.currentTarget.value })} />
        </label>
        <label>
          Description
          <input value={form.description} onInput={(e) => setForm({ ...form, description: e.currentTarget.value })} />
        </label>
        <EventFilters value={form.events} onChange={(events) => setForm({ ...form, events })} />
        <ErrorNote error={error} />
        <button type="submit" aria-busy={busy} disabled={busy || form.events.length === 0}>
          Save
        </button>
      </form>
    </details>
  );
}
