// Presence fan-out: counts, per receiving connection, the distinct contacts whose presence arrived, so that
// duplicates (a race between a broadcast and a probe answer is allowed to produce one) do not inflate the figure.
import { performance } from 'node:perf_hooks';
import { attr, bareOf } from '../xml-scan.js';
import type { Conn } from './conn.js';

export class PresenceCounter {
  distinct = 0;
  raw = 0;
  doneAt = 0;
  private readonly seen = new Map<Conn, Set<string>>();
  private resolveDone: (() => void) | null = null;
  readonly done: Promise<void>;

  constructor(
    readonly expected: number,
    /** Only presence carrying <show>away</show> counts (the change phase); otherwise any available presence. */
    private readonly show: string | null,
  ) {
    this.done = new Promise((resolve) => {
      this.resolveDone = resolve;
    });
    if (expected === 0) this.finish();
  }

  readonly handler = (conn: Conn, xml: string): void => {
    if (!xml.startsWith('<presence')) return;
    if (attr(xml, 'type') !== undefined) return;
    const from = attr(xml, 'from');
    if (from === undefined) return;
    const sender = bareOf(from);
    if (sender === bareOf(conn.jid)) return;
    if (this.show !== null && !xml.includes(`<show>${this.show}</show>`)) return;
    this.raw++;
    let set = this.seen.get(conn);
    if (!set) {
      set = new Set();
      this.seen.set(conn, set);
    }
    if (set.has(sender)) return;
    set.add(sender);
    if (++this.distinct === this.expected) this.finish();
  };

  private finish(): void {
    this.doneAt = performance.now();
    this.resolveDone?.();
  }

  /** Resolves true when every expected presence arrived, false after the timeout. */
  wait(timeoutMs: number): Promise<boolean> {
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      void this.done.then(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }
}

export interface PresenceChangeResult {
  elapsedMs: number;
  delivered: number;
  raw: number;
  expected: number;
  complete: boolean;
  perSec: number;
}

/** Every held connection sends the same presence change at once; waits until all contacts have seen it. */
export async function presenceChange(
  conns: Conn[],
  expected: number,
  timeoutMs: number,
): Promise<PresenceChangeResult> {
  const counter = new PresenceCounter(expected, 'away');
  for (const c of conns) c.onStanza = counter.handler;
  const started = performance.now();
  for (const c of conns) c.write('<presence><show>away</show></presence>');
  const complete = await counter.wait(timeoutMs);
  const elapsedMs = (complete ? counter.doneAt : performance.now()) - started;
  for (const c of conns) c.onStanza = null;
  return {
    elapsedMs,
    delivered: counter.distinct,
    raw: counter.raw,
    expected,
    complete,
    perSec: counter.distinct / (elapsedMs / 1000),
  };
}
