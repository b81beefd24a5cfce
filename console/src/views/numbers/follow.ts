/**
 * Numbers that are connecting, read again until they are not. /events says
 * when a number comes online or drops, but a restart that comes back is no
 * news there (edge/objects/instance-events.ts: connected -> connecting ->
 * connected announces nothing), so without this a restarted row would stay
 * "connecting" until the next event.
 */
import { useEffect } from "preact/hooks";
import type { Instance } from "../../types.ts";

const FOLLOW_MS = 2_000;

type Followed = Pick<Instance, "id" | "state">;

/** `numbers`: one number or the table's rows, as loaded (each answer is a new object, which arms the next read). */
export function useFollowConnecting(numbers: Followed | Followed[] | undefined, reload: (id: string) => void) {
  useEffect(() => {
    const ids = [numbers ?? []].flat().filter((n) => n.state === "connecting").map((n) => n.id);
    if (ids.length === 0) return;
    const timer = setTimeout(() => ids.forEach(reload), FOLLOW_MS);
    return () => clearTimeout(timer);
  }, [numbers]);
}
