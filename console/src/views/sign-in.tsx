/** Sign-in: a project API key for the project's views, or the admin token for the operator's. */
import { useState } from "preact/hooks";
import { api } from "../api.ts";
import { signIn, signOut, type Role } from "../session.ts";
import { ErrorNote } from "../ui.tsx";

/** A cheap call each credential must pass before it is kept. */
const CHECK: Record<Role, string> = { project: "/settings", admin: "/admin/fleets" };

export function SignInView({ role, onSignedIn }: { role: Role; onSignedIn: () => void }) {
  const [secret, setSecret] = useState("");
  const [error, setError] = useState<unknown>();
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    signIn(role, secret);
    try {
      await api(CHECK[role], { as: role });
      onSignedIn();
    } catch (err) {
      signOut(role);
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  const project = role === "project";
  return (
    <article>
      <h2>{project ? "Sign in to a project" : "Operator sign-in"}</h2>
      <p class="muted">
        {project
          ? "Paste one of the project's API keys (pb_live_...). It stays in this tab only and is forgotten when the tab closes."
          : "Paste the edge's admin token (POMBO_ADMIN_TOKEN). It stays in this tab only."}
      </p>
      <form onSubmit={submit}>
        <input
          type="password"
          name={project ? "api_key" : "admin_token"}
          aria-label={project ? "API key" : "Admin token"}
          placeholder={project ? "pb_live_..." : "admin token"}
          autocomplete="off"
          required
          value={secret}
          onInput={(e) => setSecret(e.currentTarget.value)}
        />
        <button type="submit" aria-busy={busy} disabled={busy}>
          Sign in
        </button>
      </form>
      <ErrorNote error={error} />
    </article>
  );
}
