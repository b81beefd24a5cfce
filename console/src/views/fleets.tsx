/** Admin: the fleet processes linked to this edge and how many numbers each runs. */
import { api } from "../api.ts";
import type { Fleet } from "../types.ts";
import { ErrorNote, Time, useLoad } from "../ui.tsx";

export function FleetsView() {
  const fleets = useLoad(() => api<{ data: Fleet[] }>("/admin/fleets", { as: "admin" }), []);
  return (
    <section>
      <h2>Fleet processes</h2>
      <ErrorNote error={fleets.error} />
      <table>
        <thead>
          <tr>
            <th>Fleet</th>
            <th>Host</th>
            <th>PID</th>
            <th>Numbers</th>
            <th>Capacity</th>
            <th>Linked</th>
            <th>Last seen</th>
          </tr>
        </thead>
        <tbody>
          {(fleets.data?.data ?? []).map((f) => (
            <tr key={f.fleet_id} data-fleet={f.fleet_id}>
              <td>{f.fleet_id}</td>
              <td>{f.host}</td>
              <td>{f.pid}</td>
              <td>{f.instances}</td>
              <td>{f.capacity}</td>
              <td>
                <Time iso={f.connected_at} />
              </td>
              <td>
                <Time iso={f.last_seen_at} />
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {fleets.data?.data.length === 0 && <p class="muted">No fleet process is linked.</p>}
    </section>
  );
}
