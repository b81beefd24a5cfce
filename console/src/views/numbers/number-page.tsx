/** One number (`#/numbers/<id>`, `#/numbers/<id>/pair`): what it is, how it behaves, pairing it. */
import { useEffect, useState } from "preact/hooks";
import { api } from "../../api.ts";
import { useEvents } from "../../events.ts";
import { href } from "../../router.ts";
import type { InstanceDetail, NumberSettings } from "../../types.ts";
import { Action, Badge, ErrorNote, Time, useLoad } from "../../ui.tsx";
import { useFollowConnecting } from "./follow.ts";
import { INSTANCE_EVENTS, closeMeaning, stateMeaning } from "./meanings.ts";
import { NumberActions } from "./number-actions.tsx";
import { Pairing } from "./pairing.tsx";

export function NumberPage({ id, pairing }: { id: string; pairing: boolean }) {
  const path = `/instances/${encodeURIComponent(id)}`;
  const number = useLoad(() => api<InstanceDetail>(path), [id]);
  useEvents(INSTANCE_EVENTS, (event) => event.instance_id === id && number.reload());
  useFollowConnecting(number.data, number.reload);
  // Once shown, pairing stays on the page: its "connected" is the news the operator waits for.
  const [showPairing, setShowPairing] = useState(pairing);
  const n = number.data;
  useEffect(() => {
    if (n && n.state !== "connected") setShowPairing(true);
  }, [n?.state]);

  return (
    <section>
      <nav aria-label="breadcrumb">
        <ul>
          <li>
            <a href={href("numbers")}>Numbers</a>
          </li>
          <li>{n?.name ?? id}</li>
        </ul>
      </nav>
      <ErrorNote error={number.error} />
      {n && (
        <>
          <hgroup>
            <h2>{n.name}</h2>
            <p>
              <Badge value={n.state} /> {n.reason && <Badge value={n.reason} />} <span data-field="meaning">{stateMeaning(n)}</span>
            </p>
          </hgroup>
          <NumberActions number={n} onChanged={() => number.reload()} pairing={showPairing} />
          {showPairing && <Pairing number={n} onChanged={number.reload} />}
          <div class="grid">
            <article>
              <h3>Details</h3>
              <table class="details">
                <tbody>
                  <Row label="Phone">{n.phone ?? <span class="muted">not paired</span>}</Row>
                  <Row label="WhatsApp name">{n.push_name ?? "—"}</Row>
                  <Row label="JID">{n.jid ?? "—"}</Row>
                  <Row label="Health">{n.health}</Row>
                  <Row label="Warming">{n.warming ? `day ${n.warming.day}, cap ${n.warming.daily_limit}/day, until ${new Date(n.warming.ends_at).toLocaleDateString()}` : "—"}</Row>
                  <Row label="Sent today">
                    {n.sent_today} (last <Time iso={n.last_sent_at} />)
                  </Row>
                  <Row label="Fleet process">{n.fleet_id ?? "none"}</Row>
                  <Row label="Last close">
                    {n.last_close_code === null ? (
                      "—"
                    ) : (
                      <>
                        {n.last_close_code}: {closeMeaning(n.last_close_code)} <Time iso={n.last_close_at} />
                      </>
                    )}
                  </Row>
                  <Row label="Proxy">{n.proxy_url ?? "none"}</Row>
                  <Row label="Created">
                    <Time iso={n.created_at} />
                  </Row>
                  <Row label="ID">
                    <code>{n.id}</code>
                  </Row>
                </tbody>
              </table>
            </article>
            <article>
              <h3>Behaviour</h3>
              <NumberSettingsForm path={path} settings={n.settings} onSaved={number.reload} />
              <h3>Proxy</h3>
              <ProxyForm path={path} current={n.proxy_url} onSaved={number.reload} />
            </article>
          </div>
        </>
      )}
    </section>
  );
}

function Row({ label, children }: { label: string; children: preact.ComponentChildren }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td class="wrap">{children}</td>
    </tr>
  );
}

function NumberSettingsForm({ path, settings, onSaved }: { path: string; settings: NumberSettings; onSaved: () => void }) {
  const patch = (change: Partial<NumberSettings>) => api(path, { method: "PATCH", body: { settings: change } }).then(onSaved);
  const [error, setError] = useState<unknown>();
  const toggle = (key: "ignore_groups" | "always_online") => (e: Event) =>
    patch({ [key]: (e.currentTarget as HTMLInputElement).checked }).catch(setError);
  return (
    <form aria-label="Number settings" onSubmit={(e) => e.preventDefault()}>
      <label>
        <input type="checkbox" role="switch" name="ignore_groups" checked={settings.ignore_groups} onChange={toggle("ignore_groups")} />
        Ignore group messages
      </label>
      <label>
        <input type="checkbox" role="switch" name="always_online" checked={settings.always_online} onChange={toggle("always_online")} />
        Always show as online (the phone then gets no notifications)
      </label>
      <label>
        Read receipts
        <select
          name="auto_read"
          value={settings.auto_read === null ? "project" : String(settings.auto_read)}
          onChange={(e) => {
            const v = e.currentTarget.value;
            patch({ auto_read: v === "project" ? null : v === "true" }).catch(setError);
          }}
        >
          <option value="project">As the project's settings say</option>
          <option value="true">Mark every received message read</option>
          <option value="false">Never by themselves</option>
        </select>
      </label>
      <ErrorNote error={error} />
    </form>
  );
}

function ProxyForm({ path, current, onSaved }: { path: string; current: string | null; onSaved: () => void }) {
  const [value, setValue] = useState(current ?? "");
  const save = (proxy_url: string | null) => api(path, { method: "PATCH", body: { proxy_url } }).then(onSaved);
  return (
    <form aria-label="Proxy" onSubmit={(e) => e.preventDefault()}>
      <input name="proxy_url" placeholder="socks5://user:pass@proxy.example:1080" value={value} onInput={(e) => setValue(e.currentTarget.value)} />
      <small>The number reconnects through it at once. http(s):// or socks5://; private addresses are refused.</small>
      <div class="toolbar">
        <Action onRun={() => save(value.trim() || null)}>Save proxy</Action>
        {current && (
          <Action class="secondary" confirm="Connect this number directly, without its proxy?" onRun={() => save(null).then(() => setValue(""))}>
            Clear proxy
          </Action>
        )}
      </div>
    </form>
  );
}
