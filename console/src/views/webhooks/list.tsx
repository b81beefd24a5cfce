/** The project's webhook endpoints, and a form to add one (its secret shown once). */
import { useState } from "preact/hooks";
import { allPages, api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href } from "../../router.ts";
import type { Webhook } from "../../types.ts";
import { ErrorNote, Time, useLoad, useSubmit } from "../../ui.tsx";
import { EventFilters } from "./event-filters.tsx";
import { EndpointHealth } from "./health.tsx";
import { SecretOnce } from "./secret.tsx";

export function WebhookList() {
  const hooks = useLoad(() => allPages<Webhook>("/webhooks"), []);
  const [created, setCreated] = useState<Webhook | null>(null);
  useEvents(["webhook.disabled"], () => hooks.reload());
  return (
    <section>
      <h2>Webhooks</h2>
      <p class="muted">
        Each endpoint gets a signed POST for every event it subscribes to, retried with backoff for over a day when it does not answer 2xx.
      </p>
      {created?.secret && (
        <>
          <p>
            Endpoint <a href={href("webhooks", created.id)}>{created.url}</a> added.
          </p>
          <SecretOnce secret={created.secret} onDone={() => setCreated(null)} />
        </>
      )}
      <ErrorNote error={hooks.error} />
      <table aria-busy={hooks.loading}>
        <thead>
          <tr>
            <th>URL</th>
            <th>Events</th>
            <th>Health</th>
            <th>Added</th>
          </tr>
        </thead>
        <tbody>
          {(hooks.data ?? []).map((h) => (
            <tr key={h.id} data-webhook={h.id}>
              <td class="wrap">
                <a href={href("webhooks", h.id)}>{h.url}</a>
                {h.kind === "alert" && <span class="muted"> (alert URL, from Settings)</span>}
                {h.description && <div class="muted">{h.description}</div>}
              </td>
              <td class="wrap">{h.events.join(", ")}</td>
              <td class="wrap">
                <EndpointHealth hook={h} />
              </td>
              <td>
                <Time iso={h.created_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {hooks.data?.length === 0 && <p class="muted">No endpoints yet: add one below to receive this project's events on your server.</p>}
      <details open={hooks.data?.length === 0}>
        <summary role="button" class="secondary outline">
          Add an endpoint
        </summary>
        <NewEndpoint
          onCreated={(hook) => {
            setCreated(hook);
            hooks.reload();
          }}
        />
      </details>
    </section>
  );
}

function NewEndpoint({ onCreated }: { onCreated: (hook: Webhook) => void }) {
  const [url, setUrl] = useState("");
  const [description, setDescription] = useState("");
  const [events, setEvents] = useState<string[]>(["*"]);
  const { busy, error, submit } = useSubmit(async () => {
    const hook = await api<Webhook>("/webhooks", { method: "POST", body: { url, events, ...(description.trim() ? { description: description.trim() } : {}) } });
    setUrl("");
    setDescription("");
    setEvents(["*"]);
    onCreated(hook);
  });
  return (
    <form onSubmit={submit} aria-label="New endpoint">
      <label>
        URL
        <input name="url" type="url" required placeholder="https://crm.example.com/hooks/pombo" value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
      </label>
      <label>
        Description
        <input name="description" placeholder="What this endpoint is for (optional)" value={description} onInput={(e) => setDescription(e.currentTarget.value)} />
      </label>
      <EventFilters value={events} onChange={setEvents} />
      <ErrorNote error={error} />
      <button type="submit" aria-busy={busy} disabled={busy || events.length === 0}>
        Add endpoint
      </button>
    </form>
  );
}
