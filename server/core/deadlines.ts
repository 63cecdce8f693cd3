// Deadlines for hook handlers (DESIGN §3: each handler runs under a timeout). A timer per call (setTimeout plus
// Promise.race plus finally) was a tenth of Switchboard's CPU time when routing messages (docs/benchmarks.md).
// All deadlines of one queue have the same length, so they expire in the order they were added: one FIFO and one
// timer for the oldest entry serve them all. Entries settle mostly in order too, and leave from the head.

interface Entry {
  at: number;
  done: boolean;
  fail: () => void;
}

export class DeadlineQueue {
  private items: Entry[] = [];
  private head = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ms: number) {}

  /**
   * Settles like `p`, or rejects with `onTimeout()` when `p` has not settled within the queue's time. The
   * returned promise is never the one passed in.
   */
  race<T>(p: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = { at: performance.now() + this.ms, done: false, fail: () => reject(onTimeout()) };
      this.items.push(entry);
      if (this.timer === null) this.arm(this.ms);
      p.then(
        (v) => {
          if (this.settle(entry)) resolve(v);
        },
        (err: unknown) => {
          if (this.settle(entry)) reject(err);
        },
      );
    });
  }

  /** Pending deadlines (for tests). */
  get size(): number {
    let n = 0;
    for (let i = this.head; i < this.items.length; i++) if (!this.items[i]!.done) n++;
    return n;
  }

  /** Marks an entry settled; false when its deadline had already passed. */
  private settle(entry: Entry): boolean {
    if (entry.done) return false;
    entry.done = true;
    while (this.head < this.items.length && this.items[this.head]!.done) this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
      if (this.timer !== null) {
        clearTimeout(this.timer);
        this.timer = null;
      }
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return true;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(delay)));
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    while (this.head < this.items.length) {
      const entry = this.items[this.head]!;
      if (!entry.done && entry.at > now) break;
      this.head++;
      if (!entry.done) {
        entry.done = true;
        entry.fail();
      }
    }
    if (this.head < this.items.length) this.arm(this.items[this.head]!.at - now);
    else {
      this.items = [];
      this.head = 0;
    }
  }
}
