/**
 * An object has one alarm; each of its parts that needs waking later (the
 * send queue, the send journal, read receipts) asks for a time here, and
 * the earliest wins. Waking early is harmless: each part looks at what is
 * due and asks again.
 */
export async function wakeAt(storage: DurableObjectStorage, at: number): Promise<void> {
  const current = await storage.getAlarm();
  if (current === null || at < current) await storage.setAlarm(at);
}
