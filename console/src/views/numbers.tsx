/**
 * Numbers: the project's WhatsApp numbers, live. `#/numbers` is the table,
 * `#/numbers/<id>` one number's page (numbers/number-page.tsx).
 */
import { useState } from "preact/hooks";
import { ApiError, allPages, api } from "../api.ts";
import { useEvents } from "../events.ts";
import { href } from "../router.ts";
import type { Route } from "../router.ts";
import type { Instance, ProjectSettings } from "../types.ts";
import { Badge, ErrorNote, Time, useLoad } from "../ui.tsx";
import { CreateNumber } from "./numbers/create-number.tsx";
import { useFollowConnecting } from "./numbers/follow.ts";
import { INSTANCE_EVENTS, closeMeaning, healthTone, stateMeaning } from "./numbers/meanings.ts";
import { NumberActions } from "./numbers/number-actions.tsx";
import { NumberPage } from "./numbers/number-page.tsx";

export function NumbersView({ route }: { route: Route }) {
  const id = route.parts[0];
  return id ? <NumberPage id={id} pairing={route.parts[1] === "pair"} /> : <NumbersTable />;
}

function NumbersTable() {
  const numbers = useLoad(() => allPages<Instance>("/instances"), []);
  const settings = useLoad(() => api<ProjectSettings>("/settings"), []);
  const [filter, setFilter] = useState("");

  /** One row read again (an event named it, or an action changed it); a number gone from the API leaves the table. */
  const showRow = (fresh: Instance) =>
    numbers.set((rows) => {
      if (!rows) return rows;
      return rows.some((r) => r.id === fresh.id) ? rows.map((r) => (r.id === fresh.id ? fresh : r)) : [fresh, ...rows];
    });
  const reloadRow = async (id: string) => {
    try {
      showRow(await api<Instance>(`/instances/${encodeURIComponent(id)}`));
    } catch (err) {
      if (err instanceof ApiError && err.status === 404) numbers.set((rows) => rows?.filter((r) => r.id !== id));
    }
  };
  // An event names the number; its row is read again rather than patched from the event, so the table shows what the API says.
  useEvents(INSTANCE_EVENTS, (event) => {
    if (event.instance_id) void reloadRow(event.instance_id);
  });
  useFollowConnecting(numbers.data, (id) => void reloadRow(id));

  const threshold = settings.data?.health_threshold ?? 40;
  const needle = filter.trim().toLowerCase();
  const shown = (numbers.data ?? []).filter(
    (n) => !needle || [n.name, n.phone ?? "", n.state, n.reason ?? "", n.id].some((v) => v.toLowerCase().includes(needle)),
  );
  const count = numbers.data?.length ?? 0;

  return (
    <section>
      <h2>Numbers</h2>
      <ErrorNote error={numbers.error} />
      <div class="toolbar">
        <input
          type="search"
          name="filter"
          aria-label="Filter numbers"
          placeholder="Filter by name, phone or state"
          value={filter}
          onInput={(e) => setFilter(e.currentTarget.value)}
        />
        <span class="muted">
          {needle ? `${shown.length} of ${count}` : `${count}`} number{count === 1 ? "" : "s"}
          {" · "}
          {(numbers.data ?? []).filter((n) => n.state === "connected").length} connected
        </span>
      </div>
      <CreateNumber onCreated={(n) => numbers.set((rows) => [n, ...(rows ?? [])])} />
      <div class="overflow-auto">
        <table class="striped">
          <thead>
            <tr>
              <th>Name</th>
              <th>Phone</th>
              <th>State</th>
              <th title={`Below ${threshold} a number leaves rotation`}>Health</th>
              <th>Warming</th>
              <th>Sent today</th>
              <th>Fleet process</th>
              <th>Last close</th>
              <th>Actions</th>
            </tr>
          </thead>
          <tbody>
            {shown.map((n) => (
              <tr key={n.id} data-instance={n.id}>
                <td>
                  <a href={href("numbers", n.id)}>{n.name}</a>
                </td>
                <td>{n.phone ?? <span class="muted">not paired</span>}</td>
                <td class="wrap" data-field="state">
                  <Badge value={n.state} /> {n.reason && <Badge value={n.reason} />}
                  <br />
                  <small class="muted">{stateMeaning(n)}</small>
                </td>
                <td>
                  <span class={`badge ${healthTone(n.health, threshold)}`} data-field="health">
                    {n.health}
                  </span>
                </td>
                <td data-field="warming">
                  {n.warming ? (
                    <span title={`warming ends ${new Date(n.warming.ends_at).toLocaleString()}`}>
                      day {n.warming.day}, cap {n.warming.daily_limit}/day
                    </span>
                  ) : (
                    <span class="muted">{n.state === "connected" ? "done" : "—"}</span>
                  )}
                </td>
                <td data-field="sent_today">{n.sent_today}</td>
                <td data-field="fleet">{n.fleet_id ?? <span class="muted">none</span>}</td>
                <td class="wrap" data-field="close">
                  {n.last_close_code === null ? (
                    <span class="muted">—</span>
                  ) : (
                    <>
                      <strong>{n.last_close_code}</strong> <small>{closeMeaning(n.last_close_code)}</small> <Time iso={n.last_close_at} />
                    </>
                  )}
                </td>
                <td>
                  <NumberActions number={n} compact onChanged={(updated) => (updated ? showRow(updated) : reloadRow(n.id))} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </div>
      {numbers.data?.length === 0 && <p class="muted">No numbers yet. Create one above, then pair it with the phone that owns it.</p>}
      {numbers.data && numbers.data.length > 0 && shown.length === 0 && <p class="muted">No number matches “{filter}”.</p>}
    </section>
  );
}
