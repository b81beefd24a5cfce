/** What an operator does to a number: pair, restart, log out, delete (the last two after a confirmation). */
import { api } from "../../api.ts";
import { href, navigate } from "../../router.ts";
import type { Instance } from "../../types.ts";
import { Action } from "../../ui.tsx";

const path = (n: Instance, action = "") => `/instances/${encodeURIComponent(n.id)}${action}`;

/** `compact`: a table row's buttons (after a delete the table drops the row; the page goes back to the table). `pairing`: the pairing view is shown already, so no "Pair" link. */
/** `onChanged` gets the number as the API answered the action (restart, log out), or nothing after a delete. */
export function NumberActions(props: { number: Instance; onChanged: (updated?: Instance) => void; compact?: boolean; pairing?: boolean }) {
  const { number: n, onChanged, compact } = props;
  // Logged out and expired pairings keep the phone they had, but need the phone again.
  const paired = n.state === "connected" || (n.phone !== null && n.state !== "qr_pending" && n.reason !== "logged_out" && n.reason !== "pairing_expired");
  return (
    <div class="toolbar actions">
      {!paired && !props.pairing && (
        <a href={href("numbers", n.id, "pair")} role="button" class={compact ? "outline" : undefined}>
          Pair
        </a>
      )}
      <Action class="outline secondary" onRun={() => api<Instance>(path(n, "/restart"), { method: "POST" }).then(onChanged)}>
        Restart
      </Action>
      {paired && (
        <Action
          class="outline secondary"
          confirm={`Log ${n.name} out of WhatsApp? Its session is wiped and the phone must pair it again.`}
          onRun={() => api<Instance>(path(n, "/logout"), { method: "POST" }).then(onChanged)}
        >
          Log out
        </Action>
      )}
      <Action
        class="outline contrast"
        confirm={`Delete ${n.name}? It is logged out of WhatsApp and removed with its session; this cannot be undone.`}
        onRun={async () => {
          await api(path(n), { method: "DELETE" });
          if (compact) onChanged();
          else navigate("numbers");
        }}
      >
        Delete
      </Action>
    </div>
  );
}
