/**
 * A Durable Object's key-value storage, typed by the list of what the object
 * keeps there (a map from each key to its value's type). The list is the one
 * place a key is spelled, and `get("status")` is typed with no cast at the
 * call. Values are stored as the runtime's storage stores them (structured
 * clone), so wrapping changes nothing on disk.
 */
export class TypedStorage<Keys extends Record<string, unknown>> {
  readonly #storage: DurableObjectStorage;

  constructor(storage: DurableObjectStorage) {
    this.#storage = storage;
  }

  get<K extends keyof Keys & string>(key: K): Promise<Keys[K] | undefined> {
    return this.#storage.get<Keys[K]>(key);
  }

  put<K extends keyof Keys & string>(key: K, value: Keys[K]): Promise<void> {
    return this.#storage.put(key, value);
  }

  /** Several keys in one write (atomic). */
  putMany(entries: Partial<Keys>): Promise<void> {
    return this.#storage.put<unknown>(entries as Record<string, unknown>);
  }

  delete(key: keyof Keys & string): Promise<boolean> {
    return this.#storage.delete(key);
  }
}
