/** Numbers: the project's WhatsApp numbers, live. */
import { allPages } from "../api.ts";
import { useEvents } from "../events.ts";
import type { Instance } from "../types.ts";
import { Badge, ErrorNote, Time, useLoad } from "../ui.tsx";

/** Instance events that change a row: each carries the instance's new state. */
const INSTANCE_EVENTS = ["instance.connected", "instance.disconnected", "instance.logged_out", "instance.banned", "instance.qr"];

export function NumbersView() {
  const numbers = useLoad(() => allPages<Instance>("/instances"), []);
  // An event names the number; its row is read again rather than patched from the event, so the table shows what the API says.
  useEvents(INSTANCE_EVENTS, () => numbers.reload());
  return (
    <section>
      <h2>Numbers</h2>
      <ErrorNote error={numbers.error} />
      <table>
        <thead>
          <tr>
            <th>Name</th>
            <th>Phone</th>
            <th>State</th>
            <th>Health</th>
            <th>Sent today</th>
            <th>Fleet</th>
            <th>Last close</th>
          </tr>
        </thead>
        <tbody>
          {(numbers.data ?? []).map((n) => (
            <tr key={n.id} data-instance={n.id}>
              <td>{n.name}</td>
              <td>{n.phone ?? <span class="muted">not paired</span>}</td>
              <td>
                <Badge value={n.state} /> {n.reason && <span class="muted">{n.reason}</span>}
              </td>
              <td data-field="health">{n.health}</td>
              <td>{n.sent_today}</td>
              <td>{n.fleet_id ?? "—"}</td>
              <td>
                {n.last_close_code ?? "—"} <Time iso={n.last_close_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {numbers.data?.length === 0 && <p class="muted">No numbers yet.</p>}
    </section>
  );
}
