/** What a thrown value says, for a log line or an error's message: anything may be thrown, not only Errors. */
export function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
