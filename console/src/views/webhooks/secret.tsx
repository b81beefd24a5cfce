/** A webhook's signing secret, shown once (after create or rotate): copy it now, it is never shown again. */
import { useRef, useState } from "preact/hooks";

async function copy(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text);
    return true;
  } catch {
    // No clipboard permission (an embedded or older browser): select it so the operator can copy by hand.
    field?.select();
    return document.execCommand?.("copy") ?? false;
  }
}

export function SecretOnce({ secret, onDone }: { secret: string; onDone: () => void }) {
  const field = useRef<HTMLInputElement>(null);
  const [copied, setCopied] = useState<boolean | null>(null);
  return (
    <article class="secret-once" aria-live="polite">
      <h4>Store this signing secret now</h4>
      <p>
        It verifies the <code>webhook-signature</code> header of every delivery (Standard Webhooks). Pombo keeps it sealed and will{" "}
        <strong>not show it again</strong>: if you lose it, rotate the secret.
      </p>
      <div role="group">
        <input ref={field} readOnly value={secret} aria-label="Signing secret" data-secret onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={async () => setCopied(await copy(secret, field.current))}>
          Copy
        </button>
      </div>
      {copied === true && <p class="muted">Copied to the clipboard.</p>}
      {copied === false && <p class="muted">Selected: press Ctrl+C (⌘C) to copy.</p>}
      <button type="button" class="secondary" onClick={onDone}>
        I have stored it
      </button>
    </article>
  );
}
