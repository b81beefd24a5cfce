/** A secret the API shows once (an API key, a signing secret): copy it now, it is not shown again. */
import type { ComponentChildren } from "preact";
import { useState } from "preact/hooks";

export function ShownOnce({ title, value, onDone, children }: { title: string; value: string; onDone: () => void; children?: ComponentChildren }) {
  const [copied, setCopied] = useState(false);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(value);
      setCopied(true);
    } catch {
      // No clipboard (a page not on https or localhost): the value is selectable text.
    }
  };
  return (
    <article class="shown-once" aria-live="polite">
      <header>
        <strong>{title}: store it now.</strong> It is shown this once; Pombo keeps only its hash.
      </header>
      <fieldset role="group">
        <input readOnly value={value} aria-label={title} data-secret onFocus={(e) => e.currentTarget.select()} />
        <button type="button" onClick={copy}>
          {copied ? "Copied" : "Copy"}
        </button>
      </fieldset>
      {children && <p class="muted">{children}</p>}
      <footer>
        <button type="button" class="secondary" onClick={onDone}>
          I have stored it
        </button>
      </footer>
    </article>
  );
}
