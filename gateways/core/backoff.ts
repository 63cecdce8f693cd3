// Reconnect delays for legacy connections (DESIGN §6): exponential backoff with jitter, capped, and reset once a
// connection has stayed up for a stable period, so a flapping network is not hammered and a recovered one is
// rejoined quickly. Pure apart from the injected clock and random source.

export interface BackoffOptions {
  /** First delay, before jitter. */
  initialMs: number;
  /** Cap on the delay, before jitter. */
  maxMs: number;
  /** A connection that lasted this long resets the attempt count. */
  stableMs: number;
  /** Growth per attempt; default 2. */
  factor?: number;
}

export class Backoff {
  private attempt = 0;
  private connectedAt: number | null = null;

  constructor(
    private readonly opts: BackoffOptions,
    private readonly random: () => number = Math.random,
    private readonly now: () => number = Date.now,
  ) {}

  /** Number of consecutive failed or short-lived attempts so far. */
  get attempts(): number {
    return this.attempt;
  }

  /** Records a successful connection; the reset happens only if it proves stable (see failed()). */
  connected(): void {
    this.connectedAt = this.now();
  }

  /**
   * Records a failed login or a lost connection and returns how long to wait before the next attempt.
   * "Equal jitter": half the exponential delay is fixed and half is random, so retries of many users that
   * failed together spread out while no retry comes immediately.
   */
  failed(): number {
    if (this.connectedAt !== null && this.now() - this.connectedAt >= this.opts.stableMs) this.attempt = 0;
    this.connectedAt = null;
    const base = Math.min(this.opts.maxMs, this.opts.initialMs * (this.opts.factor ?? 2) ** this.attempt);
    this.attempt++;
    return Math.round(base / 2 + (base / 2) * this.random());
  }

  /** Forgets the history (the user logged out, or re-registered with new credentials). */
  reset(): void {
    this.attempt = 0;
    this.connectedAt = null;
  }
}
