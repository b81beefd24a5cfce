/** Whether an endpoint is getting its events, in plain words. */
import type { Webhook } from "../../types.ts";
import { Time } from "../../ui.tsx";

export function EndpointHealth({ hook }: { hook: Webhook }) {
  if (!hook.enabled) {
    return (
      <span data-field="health">
        <span class="badge bad" data-value="disabled">disabled</span>{" "}
        <span class="muted">{hook.disabled_reason ?? "turned off by hand"}: nothing is sent to it</span>
      </span>
    );
  }
  if (hook.failing_since) {
    return (
      <span data-field="health">
        <span class="badge warn" data-value="failing">failing</span> <span class="muted">since</span> <Time iso={hook.failing_since} />
        <span class="muted">: retried with backoff, and turned off if it keeps failing for days</span>
      </span>
    );
  }
  return (
    <span data-field="health">
      <span class="badge ok" data-value="enabled">enabled</span>{" "}
      {hook.last_success_at ? (
        <>
          <span class="muted">last success</span> <Time iso={hook.last_success_at} />
        </>
      ) : (
        <span class="muted">nothing delivered yet</span>
      )}
    </span>
  );
}
