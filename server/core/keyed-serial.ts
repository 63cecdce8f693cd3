// Per-key serial execution: tasks that share a key (e.g. one account) run one after another in call order,
// so read-modify-write sequences on a user's stored data cannot interleave. Tasks of other keys run freely.
export class KeyedSerial {
  /** The settled-never-rejecting tail of each key's chain; absent when the key is idle. */
  private readonly tails = new Map<string, Promise<void>>();

  /** Runs `task` after every task queued before it under `key`; its outcome is the caller's to handle. */
  run<T>(key: string, task: () => Promise<T>): Promise<T> {
    const prev = this.tails.get(key) ?? Promise.resolve();
    const result = prev.then(task);
    const tail = result.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return result;
  }

  /** Whether a task for the key is queued or running. */
  busy(key: string): boolean {
    return this.tails.has(key);
  }
}
