/**
 * `POST /numbers/check`: which of up to 100 phones are on WhatsApp, and under
 * which account. Answers come from the recipient cache (recipients.ts, the
 * same one sends resolve through) and, for the rest, one WhatsApp query
 * through one number, which spends that number's hourly lookup budget
 * (objects/lookup-budget.ts). A Brazilian mobile is answered under the form
 * its account has, with or without the 9th digit.
 */
import { phoneFromJid } from "../../shared/jid.ts";
import type { Env } from "../env.ts";
import { ApiError } from "../errors.ts";
import { phoneOf } from "./phone-input.ts";
import { lookUpPhones } from "./recipients.ts";
import { lookupAskers, noNumber } from "./selector.ts";
import { getSettings } from "./settings.ts";
import { projectInstance } from "./whatsapp-groups.ts";

export type NumberCheck = { input: string; phone: string; on_whatsapp: boolean; jid: string | null };

export async function checkNumbers(env: Env, projectId: string, inputs: string[], instanceId?: string): Promise<{ data: NumberCheck[] }> {
  const settings = await getSettings(env, projectId);
  const phones = inputs.map((input, i) => phoneOf(input, `phones[${i}]`, settings.default_country));
  if (instanceId) await projectInstance(env, projectId, instanceId);
  const askers = async () => (instanceId ? [instanceId] : lookupAskers(env, projectId, settings));
  const answers = await lookUpPhones(env, projectId, phones, askers);
  if (!answers) {
    if (!instanceId) throw noNumber();
    throw new ApiError(409, "not_connected", "the number is not connected to WhatsApp right now; try again once it is", { field: "instance_id" });
  }
  return {
    data: inputs.map((input, i) => {
      const jid = answers.get(phones[i]!) ?? null;
      return { input, phone: phoneFromJid(jid) ?? phones[i]!, on_whatsapp: jid !== null, jid };
    }),
  };
}
