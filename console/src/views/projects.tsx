/**
 * Admin: projects and their API keys. A new key is shown once (the edge
 * keeps only its hash); revoking one refuses it at once.
 */
import { useState } from "preact/hooks";
import { allPages, api } from "../api.ts";
import { href } from "../router.ts";
import type { Route } from "../router.ts";
import type { ApiKeyInfo, Project } from "../types.ts";
import { Action, ErrorNote, Time, useLoad } from "../ui.tsx";
import { ShownOnce } from "./admin/shown-once.tsx";

export function ProjectsView({ route }: { route: Route }) {
  const projects = useLoad(() => allPages<Project>("/admin/projects", {}, 5000, "admin"), []);
  const [name, setName] = useState("");
  const [newKey, setNewKey] = useState<{ project: string; key: string } | null>(null);
  const selected = route.parts[0];
  const create = async () => {
    const made = await api<Project & { api_key: string }>("/admin/projects", { method: "POST", body: { name }, as: "admin" });
    setNewKey({ project: made.name, key: made.api_key });
    setName("");
    projects.reload();
  };
  return (
    <section>
      <h2>Projects</h2>
      <ErrorNote error={projects.error} />
      {newKey && (
        <ShownOnce title={`API key of ${newKey.project}`} value={newKey.key} onDone={() => setNewKey(null)}>
          Give it to the project's developers; they sign in here and call the API with it.
        </ShownOnce>
      )}
      <form
        aria-label="New project"
        onSubmit={(e) => {
          e.preventDefault();
        }}
      >
        <fieldset role="group">
          <input name="project_name" required maxLength={100} placeholder="New project's name" aria-label="New project's name" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          <Action onRun={create}>Create project</Action>
        </fieldset>
      </form>
      <div class="split projects">
        <table>
          <thead>
            <tr>
              <th>Project</th>
              <th>Created</th>
            </tr>
          </thead>
          <tbody>
            {(projects.data ?? []).map((p) => (
              <tr key={p.id} data-project={p.id} aria-current={p.id === selected ? "true" : undefined}>
                <td>
                  <a href={href("projects", p.id)}>{p.name}</a>
                </td>
                <td>
                  <Time iso={p.created_at} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {selected ? (
          <ProjectKeys project={(projects.data ?? []).find((p) => p.id === selected) ?? { id: selected, name: selected, created_at: "" }} />
        ) : (
          <p class="muted">Pick a project to see its API keys.</p>
        )}
      </div>
      {projects.data?.length === 0 && <p class="muted">No projects yet: create the first one above.</p>}
    </section>
  );
}

function ProjectKeys({ project }: { project: Project }) {
  const path = `/admin/projects/${encodeURIComponent(project.id)}/keys`;
  const keys = useLoad(() => api<{ data: ApiKeyInfo[] }>(path, { as: "admin" }), [path]);
  const [newKey, setNewKey] = useState<string | null>(null);
  return (
    <article>
      <header>
        <strong>API keys of {project.name}</strong>
      </header>
      <ErrorNote error={keys.error} />
      {newKey && (
        <ShownOnce title={`New API key of ${project.name}`} value={newKey} onDone={() => setNewKey(null)} />
      )}
      <table>
        <thead>
          <tr>
            <th>Key</th>
            <th>Created</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(keys.data?.data ?? []).map((k) => (
            <tr key={k.id} data-key={k.id}>
              <td>
                <code>{k.prefix}…</code>
              </td>
              <td>
                <Time iso={k.created_at} />
              </td>
              <td>{k.revoked_at ? <span class="badge bad">revoked <Time iso={k.revoked_at} /></span> : <span class="badge ok">active</span>}</td>
              <td>
                {!k.revoked_at && (
                  <Action
                    class="outline contrast"
                    confirm={`Revoke ${k.prefix}…? Everything using it is refused from now on.`}
                    onRun={async () => {
                      await api(`${path}/${encodeURIComponent(k.id)}`, { method: "DELETE", as: "admin" });
                      keys.reload();
                    }}
                  >
                    Revoke
                  </Action>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Action
        onRun={async () => {
          setNewKey((await api<{ api_key: string }>(path, { method: "POST", as: "admin" })).api_key);
          keys.reload();
        }}
      >
        Create a key
      </Action>
    </article>
  );
}
