// Brute-force brake for SASL (RFC 4422 §9, RFC 6120 §13.12 item 3): after `maxFailures` failures inside
// `windowMs`, a key (client IP, or account) is refused for `lockoutMs`. Memory is bounded by `maxEntries`.

export interface AuthThrottleOptions {
  maxFailures: number;
  windowMs: number;
  lockoutMs: number;
  /** Cap on tracked keys; the least recently touched key is forgotten first. */
  maxEntries?: number;
}

interface Entry {
  failures: number;
  windowStart: number;
  lockedUntil: number;
}

export class AuthThrottle {
  private readonly entries = new Map<string, Entry>();
  private readonly maxEntries: number;

  constructor(
    private readonly opts: AuthThrottleOptions,
    private readonly now: () => number = Date.now,
  ) {
    if (!(opts.maxFailures >= 1) || !(opts.windowMs >= 0) || !(opts.lockoutMs >= 0)) {
      throw new RangeError('AuthThrottle: maxFailures must be >= 1, windowMs and lockoutMs >= 0');
    }
    this.maxEntries = opts.maxEntries ?? 10_000;
  }

  /** True if an attempt for this key may proceed now. */
  check(key: string): boolean {
    const entry = this.entries.get(key);
    if (!entry) return true;
    const t = this.now();
    if (entry.lockedUntil > t) return false;
    if (this.stale(entry, t)) this.entries.delete(key);
    return true;
  }

  fail(key: string): void {
    const t = this.now();
    let entry = this.entries.get(key);
    if (entry && this.stale(entry, t)) entry = undefined;
    entry ??= { failures: 0, windowStart: t, lockedUntil: 0 };
    entry.failures += 1;
    if (entry.failures >= this.opts.maxFailures) {
      entry.lockedUntil = t + this.opts.lockoutMs;
      // A fresh window starts when the lockout ends.
      entry.failures = 0;
      entry.windowStart = entry.lockedUntil;
    }
    this.touch(key, entry);
  }

  succeed(key: string): void {
    this.entries.delete(key);
  }

  /** Number of tracked keys (for metrics and tests). */
  get size(): number {
    return this.entries.size;
  }

  /** Nothing left to remember: not locked and the failure window has passed. */
  private stale(entry: Entry, t: number): boolean {
    return entry.lockedUntil <= t && t - entry.windowStart >= this.opts.windowMs;
  }

  /** Re-inserts so Map order is least recently touched first, then evicts beyond the cap. */
  private touch(key: string, entry: Entry): void {
    this.entries.delete(key);
    this.entries.set(key, entry);
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done) break;
      this.entries.delete(oldest.value);
    }
  }
}
