// A bounded cache that keeps what was used recently, for lookups made on every stanza. An exact LRU reorders its
// Map (delete and re-insert) on every hit, which showed in the message benchmark's profile (docs/benchmarks.md);
// two generations cost one lookup per hit instead. When the young map is full it becomes the old one; an old entry
// that is used again moves back to the young map. What was used within the last generation survives.

export class RecentCache<K, V> {
  private young = new Map<K, V>();
  private old = new Map<K, V>();
  private readonly generation: number;

  /** Holds at most `limit` entries. */
  constructor(limit: number) {
    this.generation = Math.max(1, Math.floor(limit / 2));
  }

  get(key: K): V | undefined {
    const hit = this.young.get(key);
    if (hit !== undefined) return hit;
    const aged = this.old.get(key);
    if (aged !== undefined) {
      this.old.delete(key);
      this.set(key, aged);
    }
    return aged;
  }

  set(key: K, value: V): void {
    if (!this.young.has(key) && this.young.size >= this.generation) {
      this.old = this.young;
      this.young = new Map();
    }
    this.young.set(key, value);
    this.old.delete(key);
  }

  delete(key: K): void {
    this.young.delete(key);
    this.old.delete(key);
  }

  get size(): number {
    return this.young.size + this.old.size;
  }
}
