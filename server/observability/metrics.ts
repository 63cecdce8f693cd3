// Prometheus instruments (DESIGN §7). Each Server owns its Registry instead of prom-client's global default,
// so several servers in one process (tests, multi-host benchmarks) never collide on metric names.
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type SessionType = 'c2s' | 's2s_in' | 's2s_out' | 'component';
export const SESSION_TYPES: readonly SessionType[] = ['c2s', 's2s_in', 's2s_out', 'component'];

export interface Metrics {
  readonly registry: Registry;
  /** Open sessions, label type: c2s | s2s_in | s2s_out | component. */
  readonly sessions: Gauge<'type'>;
  /** Stanzas handled, labels direction (in | out) and kind (message | presence | iq). */
  readonly stanzas: StanzaCounter;
  /** Time spent routing one stanza, label kind (stanza name). */
  readonly routeSeconds: Histogram<'kind'>;
  readonly authFailures: Counter;
  /** Stream errors sent, label condition (RFC 6120 §4.9.3). */
  readonly streamErrors: Counter<'condition'>;
}

/** The one operation call sites need; see `stanzaCounter`. */
export interface StanzaCounter {
  inc(labels: { direction: string; kind: string }, value?: number): void;
}

/**
 * prom-client hashes and validates the label object on every inc(), which for a counter bumped twice per routed
 * stanza showed in the message benchmark's profile (docs/benchmarks.md). Counts are kept as plain numbers and
 * added to the prom-client counter when the registry is collected, so /metrics shows exactly the same values.
 */
function stanzaCounter(registry: Registry): StanzaCounter {
  const pending = new Map<string, Map<string, number>>();
  new Counter({
    name: 'switchboard_stanzas_total',
    help: 'Stanzas handled by direction and kind',
    labelNames: ['direction', 'kind'] as const,
    registers: [registry],
    collect() {
      for (const [direction, kinds] of pending) {
        for (const [kind, n] of kinds) this.inc({ direction, kind }, n);
      }
      pending.clear();
    },
  });
  return {
    inc({ direction, kind }, value = 1) {
      let kinds = pending.get(direction);
      if (!kinds) {
        kinds = new Map();
        pending.set(direction, kinds);
      }
      kinds.set(kind, (kinds.get(kind) ?? 0) + value);
    },
  };
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'switchboard_' });
  const sessions = new Gauge({
    name: 'switchboard_sessions',
    help: 'Open sessions by type',
    labelNames: ['type'] as const,
    registers: [registry],
  });
  // Zero series for every type, so dashboards and alerts see 0 rather than "no data".
  for (const type of SESSION_TYPES) sessions.set({ type }, 0);
  return {
    registry,
    sessions,
    stanzas: stanzaCounter(registry),
    routeSeconds: new Histogram({
      name: 'switchboard_route_seconds',
      help: 'Time to route one stanza',
      labelNames: ['kind'] as const,
      // Local routing takes microseconds; the upper buckets catch storage-bound or queued deliveries.
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
      registers: [registry],
    }),
    authFailures: new Counter({
      name: 'switchboard_auth_failures_total',
      help: 'Failed SASL authentication attempts',
      registers: [registry],
    }),
    streamErrors: new Counter({
      name: 'switchboard_stream_errors_total',
      help: 'Stream errors sent, by condition',
      labelNames: ['condition'] as const,
      registers: [registry],
    }),
  };
}
