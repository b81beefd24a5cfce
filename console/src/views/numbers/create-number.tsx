/** A new number: a name, optionally a proxy; then straight to its pairing. */
import { useState } from "preact/hooks";
import { api } from "../../api.ts";
import { navigate } from "../../router.ts";
import type { Instance } from "../../types.ts";
import { ErrorNote } from "../../ui.tsx";

export function CreateNumber({ onCreated }: { onCreated: (n: Instance) => void }) {
  const [name, setName] = useState("");
  const [proxy, setProxy] = useState("");
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>();
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError(undefined);
    try {
      const created = await api<Instance>("/instances", { method: "POST", body: { name, ...(proxy.trim() ? { proxy_url: proxy.trim() } : {}) } });
      onCreated(created);
      setName("");
      setProxy("");
      navigate("numbers", created.id, "pair");
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  };
  return (
    <details>
      <summary role="button" class="outline">
        Add a number
      </summary>
      <form onSubmit={submit} aria-label="Add a number">
        <div class="grid">
          <label>
            Name
            <input name="name" required maxLength={100} placeholder="support-1" value={name} onInput={(e) => setName(e.currentTarget.value)} />
          </label>
          <label>
            Proxy (optional)
            <input
              name="proxy_url"
              placeholder="socks5://user:pass@proxy.example:1080"
              value={proxy}
              onInput={(e) => setProxy(e.currentTarget.value)}
            />
            <small>The number's WhatsApp traffic goes through it: http(s):// or socks5://.</small>
          </label>
        </div>
        <button type="submit" aria-busy={busy} disabled={busy}>
          Create and pair
        </button>
        <ErrorNote error={error} />
      </form>
    </details>
  );
}
