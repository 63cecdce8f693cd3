// Federation policy: which remote domains a local host talks to (allow-all, allow-list, deny-list, globally or
// per host), and the per-remote-domain inbound stanza rate (token bucket).
import type { S2sConfig } from '../config/index.js';

export class FederationPolicy {
  constructor(private readonly cfg: Pick<S2sConfig, 'policy' | 'domains' | 'per_host'>) {}

  /** Whether `local` (a host, or any other domain we serve) may exchange stanzas with `remote`. */
  allows(local: string, remote: string): boolean {
    const rule = this.cfg.per_host[local] ?? this.cfg;
    const listed = rule.domains.includes(remote);
    if (rule.policy === 'allow_list') return listed;
    if (rule.policy === 'deny_list') return !listed;
    return true;
  }
}

/** A token bucket per remote domain: `rate` tokens a second, at most `burst` saved up. */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; at: number }>();

  constructor(
    private readonly rate: number,
    private readonly burst: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  get enabled(): boolean {
    return this.rate > 0;
  }

  /** Takes a token; returns 0 when one was available, else the milliseconds until one will be. */
  take(key: string): number {
    if (!this.enabled) return 0;
    const t = this.now();
    const b = this.buckets.get(key) ?? { tokens: this.burst, at: t };
    b.tokens = Math.min(this.burst, b.tokens + ((t - b.at) / 1000) * this.rate);
    b.at = t;
    this.buckets.set(key, b);
    if (b.tokens >= 1) {
      b.tokens -= 1;
      return 0;
    }
    return Math.ceil(((1 - b.tokens) / this.rate) * 1000);
  }

  /** Forgets buckets that have refilled, so that the map does not grow with every domain ever seen. */
  sweep(): void {
    const t = this.now();
    for (const [key, b] of this.buckets) {
      if (b.tokens + ((t - b.at) / 1000) * this.rate >= this.burst) this.buckets.delete(key);
    }
  }
}
