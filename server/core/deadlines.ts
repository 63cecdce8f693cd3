// Deadlines for hook handlers (DESIGN §3: each handler runs under a timeout). A timer per call (setTimeout plus
// Promise.race plus finally) was a tenth of Switchboard's CPU time when routing messages (docs/benchmarks.md).
// All deadlines of one queue have the same length, so they expire in the order they were added: a linked list in
// that order and one timer for its oldest entry serve them all, and an entry that settles unlinks itself in O(1).
// Unlike a timer per call, the shared timer is unref'd: a handler that never settles does not keep the process up.

interface Entry {
  at: number;
  reject: (err: unknown) => void;
  onTimeout: () => Error;
  prev: Entry | null;
  next: Entry | null;
  done: boolean;
}

export class DeadlineQueue {
  private first: Entry | null = null;
  private last: Entry | null = null;
  private count = 0;
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly ms: number) {}

  /** Settles like `p`, or rejects with `onTimeout()` when `p` has not settled within the queue's time. */
  race<T>(p: Promise<T>, onTimeout: () => Error): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const entry: Entry = {
        at: performance.now() + this.ms,
        reject,
        onTimeout,
        prev: this.last,
        next: null,
        done: false,
      };
      if (this.last) this.last.next = entry;
      else this.first = entry;
      this.last = entry;
      this.count++;
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

  /** Deadlines not yet settled or expired. */
  get size(): number {
    return this.count;
  }

  /** Unlinks an entry; false when its deadline had already passed. */
  private settle(entry: Entry): boolean {
    if (entry.done) return false;
    // The timer stays armed when the list empties: re-arming it for every call would cost what it saves. It is
    // unref'd, so an idle process is not kept alive by it, and it stops at its next expiry if nothing is pending.
    this.unlink(entry);
    return true;
  }

  private unlink(entry: Entry): void {
    entry.done = true;
    if (entry.prev) entry.prev.next = entry.next;
    else this.first = entry.next;
    if (entry.next) entry.next.prev = entry.prev;
    else this.last = entry.prev;
    entry.prev = null;
    entry.next = null;
    this.count--;
  }

  private arm(delay: number): void {
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(delay)));
    this.timer.unref();
  }

  private expire(): void {
    this.timer = null;
    const now = performance.now();
    while (this.first !== null && this.first.at <= now) {
      const entry = this.first;
      this.unlink(entry);
      entry.reject(entry.onTimeout());
    }
    if (this.first !== null) this.arm(this.first.at - now);
  }
}
