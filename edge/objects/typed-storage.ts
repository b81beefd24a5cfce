/**
 * A Durable Object's key-value storage, typed by the list of what the object
 * keeps there (a map from each key to its value's type). The list is the one
 * place a key is spelled, and `get("status")` is typed with no cast at the
 * call. Values are stored as the runtime's storage stores them (structured
 * clone), so wrapping changes nothing on disk.
 *
 * `kept` keys are also held in memory, for a value read on every frame of a
 * hot path (the instance's `meta`): each read of storage deserializes a fresh
 * copy, and these are read far more often than written. Every write goes
 * through this class (or `forget()` after a `deleteAll()`), so the copy
 * in memory is the stored one. Those values are shared between callers and
 * frozen: change one by putting a new value.
 */
export class TypedStorage<Keys extends Record<string, unknown>> {
  readonly #storage: DurableObjectStorage;
  readonly #kept: ReadonlySet<string>;
  /** Kept keys read or written since the object started (undefined: known to be absent). */
  readonly #memory = new Map<string, unknown>();

  constructor(storage: DurableObjectStorage, kept: readonly (keyof Keys & string)[] = []) {
    this.#storage = storage;
    this.#kept = new Set(kept);
  }

  get<K extends keyof Keys & string>(key: K): Promise<Keys[K] | undefined> {
    if (!this.#kept.has(key)) return this.#storage.get<Keys[K]>(key);
    if (this.#memory.has(key)) return Promise.resolve(this.#memory.get(key) as Keys[K] | undefined);
    return this.#storage.get<Keys[K]>(key).then((value) => {
      // A write that landed while this read was in flight is newer: keep it.
      if (!this.#memory.has(key)) this.#remember(key, value);
      return this.#memory.get(key) as Keys[K] | undefined;
    });
  }

  put<K extends keyof Keys & string>(key: K, value: Keys[K]): Promise<void> {
    if (this.#kept.has(key)) this.#remember(key, value);
    return this.#storage.put(key, value);
  }

  /** Several keys in one write (atomic). */
  putMany(entries: Partial<Keys>): Promise<void> {
    for (const [key, value] of Object.entries(entries)) if (this.#kept.has(key)) this.#remember(key, value);
    return this.#storage.put<unknown>(entries as Record<string, unknown>);
  }

  delete(key: keyof Keys & string): Promise<boolean> {
    if (this.#kept.has(key)) this.#memory.set(key, undefined);
    return this.#storage.delete(key);
  }

  /** The storage was emptied behind this class's back (`deleteAll()`): read kept keys again. */
  forget(): void {
    this.#memory.clear();
  }

  #remember(key: string, value: unknown): void {
    this.#memory.set(key, typeof value === "object" && value !== null ? Object.freeze(structuredClone(value)) : value);
  }
}
