/**
 * A set that only remembers its latest entries: the oldest give way once it
 * is full. For "have we just seen this?" questions whose answers stop
 * mattering after a while (ids this number just sent, LID pairs just told to
 * the edge), without memory growing with the life of the process.
 */
export class RecentSet {
  #items = new Set<string>();
  #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  has(item: string): boolean {
    return this.#items.has(item);
  }

  add(item: string): void {
    // Re-adding moves an entry to the young end.
    this.#items.delete(item);
    this.#items.add(item);
    if (this.#items.size > this.#max) this.#items.delete(this.#items.values().next().value as string);
  }

  get size(): number {
    return this.#items.size;
  }
}
