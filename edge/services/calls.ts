/**
 * A call to one of our numbers (issue 12): reported to the project as
 * `call.received`, and, with the project's `calls.reject` on, declined at
 * once and answered with `calls.message` through the send path (a normal
 * message from the number that was called, queued and paced like any send,
 * `reference` `call:<call id>`, with its own statuses). The event carries
 * the outcome: `rejected` and the answer's `message_id`.
 *
 * Once: the fleet repeats a report until it is answered, and the number's
 * Durable Object keeps what was done per call id (the ledger). A repeat of
 * an announced call answers what was done and announces nothing; a repeat
 * of one whose announcement did not go out (the object died in between)
 * finishes it without rejecting or answering twice: the answer is a send
 * under an Idempotency-Key of the call, so it stays one message.
 *
 * A call delivered while the number was offline (`offline`) is over: it is
 * reported, not rejected nor answered.
 */
import type { IncomingCall, Result } from "../../shared/protocol.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { publish } from "./events.ts";
import { canonicalJid, identify } from "./identity.ts";
import { bareJid } from "./jids.ts";
import { sendMessage } from "./messages.ts";
import { sendBody, sendRequest } from "./send-request.ts";
import type { Settings } from "./settings-schema.ts";
import { getSettings } from "./settings.ts";

export type Scope = { project_id: string; instance_id: string };

/** What was done about one call; `announced` once its event went out. */
export type Announced = { rejected: boolean; message_id: string | null; announced: boolean };

/** Where a number keeps its calls by id: its Durable Object (objects/instance.ts). */
export type CallLedger = {
  get(callId: string): Promise<Announced | undefined>;
  put(callId: string, done: Announced): Promise<void>;
};

/** Declines the call on the number's socket; false when it could not (logged by the caller). */
export type RejectCall = (call: IncomingCall) => Promise<boolean>;

export async function receiveCall(env: Env, scope: Scope, call: IncomingCall, ledger: CallLedger, reject: RejectCall): Promise<Result<"call.received">> {
  const earlier = await ledger.get(call.call_id);
  if (earlier?.announced) return { rejected: earlier.rejected, message_id: earlier.message_id, duplicate: true };

  const { calls } = await getSettings(env, scope.project_id);
  const who = await identify(env, scope.project_id, scope.instance_id, [call.from, call.from_alt]);
  const from = canonicalJid(who, bareJid(call.from));
  const live = calls.reject && !call.offline;
  // The caller's phone is ringing: decline before anything else.
  const rejected = earlier?.rejected || (live && (await reject(call)));
  let messageId = earlier?.message_id ?? null;
  if (rejected && calls.message && !messageId) messageId = await answer(env, scope, call.call_id, from, calls);
  await ledger.put(call.call_id, { rejected, message_id: messageId, announced: false });

  await publish(env, scope.project_id, {
    type: "call.received",
    instance_id: scope.instance_id,
    payload: {
      call_id: call.call_id,
      from,
      video: call.video,
      group: call.group,
      group_jid: call.group_jid,
      timestamp: call.timestamp,
      offline: call.offline,
      rejected,
      message_id: messageId,
    },
  });
  await ledger.put(call.call_id, { rejected, message_id: messageId, announced: true });
  return { rejected, message_id: messageId, duplicate: earlier !== undefined };
}

/** The answer text, sent by the number that was called; null when the send path refused it (an opted-out caller...). */
async function answer(env: Env, scope: Scope, callId: string, to: string, calls: Settings["calls"]): Promise<string | null> {
  const body = sendBody("text").parse({ to, body: calls.message, instance_id: scope.instance_id, reference: `call:${callId}` });
  try {
    const { accepted } = await sendMessage(env, scope.project_id, sendRequest("text", body), `pombo-call:${scope.instance_id}:${callId}`);
    return accepted.id;
  } catch (err) {
    if (!(err instanceof ApiError)) throw err;
    console.warn(`instance ${scope.instance_id}: call ${callId}: the answer text was not sent: ${err.code}`);
    return null;
  }
}
