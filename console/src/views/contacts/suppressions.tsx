/** The project's suppression list: numbers it never messages, whoever asks. Add one, or take one off. */
import { useState } from "preact/hooks";
import { api } from "../../api.ts";
import type { OffsetPage, Suppression } from "../../types.ts";
import { Action, ErrorNote, Time, useLoad, useSubmit } from "../../ui.tsx";

const PAGE = 100;

const REASONS: Record<string, string> = {
  manual: "blocked by you",
  optout: "they opted out",
  bounce: "unreachable",
};

const SOURCES: Record<Suppression["source"], string> = {
  api: "the API or this console",
  admin: "an operator",
  contact: "the contact (opt-out keyword)",
  system: "Pombo (merged contacts)",
};

export function SuppressionList() {
  const [offset, setOffset] = useState(0);
  const list = useLoad(() => api<OffsetPage<Suppression>>("/suppressions", { query: { limit: PAGE, offset } }), [offset]);
  const remove = async (phone: string) => {
    await api("/suppressions", { method: "DELETE", query: { phone } });
    list.reload();
  };
  const page = list.data;
  return (
    <>
      <h2>Suppression list</h2>
      <p class="muted">
        Every send to a number on this list is refused with a 422, in either Brazilian form, whatever its contact says. Taking a number off makes its
        contact active again.
      </p>
      <AddSuppression onAdded={() => (offset === 0 ? list.reload() : setOffset(0))} />
      <ErrorNote error={list.error} />
      <table aria-busy={list.loading}>
        <thead>
          <tr>
            <th>Phone</th>
            <th>Reason</th>
            <th>Note</th>
            <th>Added by</th>
            <th>When</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(page?.data ?? []).map((s) => (
            <tr key={s.phone} data-suppression={s.phone}>
              <td>{s.phone}</td>
              <td>
                {s.reason} <span class="muted">{REASONS[s.reason] ?? ""}</span>
              </td>
              <td class="wrap">{s.note ?? "—"}</td>
              <td>{SOURCES[s.source] ?? s.source}</td>
              <td>
                <Time iso={s.created_at} />
              </td>
              <td>
                <Action class="secondary outline" onRun={() => remove(s.phone)} confirm={`Take ${s.phone} off the list? Sends to it will be allowed again.`}>
                  Remove
                </Action>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {page?.data.length === 0 && <p class="muted">No suppressed numbers. Contacts who opt out, and numbers you add above, show here.</p>}
      {page && page.total > PAGE && (
        <p class="toolbar">
          <span class="muted">
            {page.offset + 1}–{page.offset + page.data.length} of {page.total}
          </span>
          {offset > 0 && (
            <button type="button" class="secondary outline" onClick={() => setOffset(Math.max(0, offset - PAGE))}>
              ← Previous
            </button>
          )}
          {offset + PAGE < page.total && (
            <button type="button" class="secondary outline" onClick={() => setOffset(offset + PAGE)}>
              Next →
            </button>
          )}
        </p>
      )}
    </>
  );
}

function AddSuppression({ onAdded }: { onAdded: () => void }) {
  const [form, setForm] = useState({ phone: "", reason: "manual", note: "" });
  const { busy, error, submit } = useSubmit(async () => {
    await api("/suppressions", { method: "POST", body: { phone: form.phone, reason: form.reason, ...(form.note.trim() ? { note: form.note.trim() } : {}) } });
    setForm({ phone: "", reason: "manual", note: "" });
    onAdded();
  });
  return (
    <form class="toolbar" onSubmit={submit} aria-label="Suppress a number">
      <input
        name="phone"
        required
        placeholder="+55 11 99999-8888"
        aria-label="Phone to suppress"
        value={form.phone}
        onInput={(e) => setForm({ ...form, phone: e.currentTarget.value })}
      />
      <select name="reason" aria-label="Reason" value={form.reason} onChange={(e) => setForm({ ...form, reason: e.currentTarget.value })}>
        {Object.entries(REASONS).map(([value, label]) => (
          <option value={value}>
            {value}: {label}
          </option>
        ))}
      </select>
      <input name="note" placeholder="Why (optional)" aria-label="Why" value={form.note} onInput={(e) => setForm({ ...form, note: e.currentTarget.value })} />
      <button type="submit" aria-busy={busy} disabled={busy}>
        Suppress
      </button>
      <ErrorNote error={error} />
    </form>
  );
}
