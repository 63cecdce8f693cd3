// One-to-one messages between pairs of held connections: closed-loop peak throughput (each sender keeps a
// fixed window of messages in flight, refilled as its receiver gets them) and open-loop latency at a fixed rate.
import { type PerformanceEntry, PerformanceObserver, performance } from 'node:perf_hooks';
import { runDelayMsOf } from '../servers/common.js';
import { percentileSorted, SampleBuffer } from '../stats.js';
import { childText } from '../xml-scan.js';
import type { Conn } from './conn.js';

const PAYLOAD = 'The quick brown fox jumps over the lazy dog; a benchmark message.';

interface Pair {
  sender: Conn;
  receiver: Conn;
}

/** Builds what a sender writes for one message: an XMPP stanza, or a relay frame around the same stanza. */
function encode(p: Pair, body: string): string | Buffer {
  if (p.sender.target.mode === 'xmpp')
    return `<message to='${p.receiver.jid}' type='chat'><body>${body}</body></message>`;
  const stanza = `<message from='${p.sender.user}' to='${p.receiver.user}' type='chat'><body>${body}</body></message>`;
  const len = Buffer.byteLength(stanza, 'latin1');
  const frame = Buffer.allocUnsafe(8 + len);
  frame.writeUInt32BE(len, 0);
  frame.writeUInt32BE(p.receiver.index, 4);
  frame.write(stanza, 8, 'latin1');
  return frame;
}

function makePairs(conns: Conn[], n: number): Pair[] {
  if (conns.length < 2 * n) throw new Error(`need ${2 * n} connections for ${n} pairs, have ${conns.length}`);
  return Array.from({ length: n }, (_, i) => ({ sender: conns[2 * i] as Conn, receiver: conns[2 * i + 1] as Conn }));
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function drain(done: () => boolean, timeoutMs: number): Promise<void> {
  const until = performance.now() + timeoutMs;
  while (!done() && performance.now() < until) await sleep(20);
}

export interface ThroughputResult {
  perSec: number;
  sent: number;
  delivered: number;
  /** Messages sent but never received, after a drain period. */
  lost: number;
  /** Where the lost ones went, for a diagnosis: see `LossReport`. */
  loss: LossReport;
  /** Share of one core the load generator used during the measured window. */
  loadgenCpu: number;
  /** The measured window on the machine's monotonic clock (process.hrtime, ns), for cutting a CPU profile. */
  windowNs: [string, string];
}

/** What the generator can tell about messages that were sent and never received. */
export interface LossReport {
  /** Error stanzas the senders received back (bounces), and the first few of them as received. */
  bounced: number;
  bounceSamples: string[];
  /** Connections (senders or receivers) that were closed when the run ended. */
  closedConns: number;
  /** Pairs that lost at least one message, and the first few as "index: sent/received". */
  lossyPairs: number;
  pairSamples: string[];
}

function lossReport(pairs: Pair[], sentBy: Int32Array, gotBy: Int32Array, bounces: string[], n: number): LossReport {
  let closedConns = 0;
  let lossyPairs = 0;
  const pairSamples: string[] = [];
  pairs.forEach((p, i) => {
    closedConns += (p.sender.closed ? 1 : 0) + (p.receiver.closed ? 1 : 0);
    if ((sentBy[i] as number) > (gotBy[i] as number)) {
      lossyPairs++;
      if (pairSamples.length < 10)
        pairSamples.push(`${i} (${p.sender.user}->${p.receiver.user}): ${sentBy[i]}/${gotBy[i]}`);
    }
  });
  return { bounced: n, bounceSamples: bounces, closedConns, lossyPairs, pairSamples };
}

export async function throughput(
  conns: Conn[],
  o: { pairs: number; window: number; warmupMs: number; measureMs: number },
): Promise<ThroughputResult> {
  const pairs = makePairs(conns, o.pairs);
  const one = pairs.map((p) => encode(p, PAYLOAD));
  const pending = new Int32Array(pairs.length);
  const sentBy = new Int32Array(pairs.length);
  const gotBy = new Int32Array(pairs.length);
  const bounces: string[] = [];
  let bounced = 0;
  let running = true;
  let scheduled = false;
  let sent = 0;
  let delivered = 0;
  let counted = 0;
  const flush = (): void => {
    scheduled = false;
    for (let i = 0; i < pairs.length; i++) {
      const k = pending[i] as number;
      if (k === 0) continue;
      pending[i] = 0;
      sent += k;
      sentBy[i] = (sentBy[i] as number) + k;
      // One write (one TLS record) per message, as clients send them: batching several per record would make the
      // peak a measure of batched reads, which the open-loop latency runs at half that rate would not see.
      const sender = (pairs[i] as Pair).sender;
      const msg = one[i] as string | Buffer;
      for (let j = 0; j < k; j++) sender.write(msg);
    }
  };
  const start = performance.now();
  const from = start + o.warmupMs;
  const to = from + o.measureMs;
  pairs.forEach((p, i) => {
    p.receiver.onStanza = (c, xml) => {
      if (!xml.startsWith('<message')) return;
      delivered++;
      gotBy[i] = (gotBy[i] as number) + 1;
      if (c.recvAt >= from && c.recvAt < to) counted++;
      if (!running) return;
      pending[i] = (pending[i] as number) + 1;
      if (!scheduled) {
        scheduled = true;
        setImmediate(flush);
      }
    };
  });
  for (const p of pairs) {
    p.sender.onStanza = (_c, xml) => {
      if (!xml.startsWith('<message') || (!xml.includes("type='error'") && !xml.includes('type="error"'))) return;
      bounced++;
      if (bounces.length < 5) bounces.push(xml.slice(0, 600));
    };
  }
  for (let i = 0; i < pairs.length; i++) pending[i] = o.window;
  flush();
  await sleep(o.warmupMs);
  const cpu0 = process.cpuUsage();
  const wall0 = performance.now();
  const ns0 = process.hrtime.bigint();
  await sleep(o.measureMs);
  const ns1 = process.hrtime.bigint();
  const cpu = process.cpuUsage(cpu0);
  const loadgenCpu = (cpu.user + cpu.system) / 1000 / (performance.now() - wall0);
  running = false;
  await drain(() => delivered >= sent, 15_000);
  for (const p of pairs) {
    p.receiver.onStanza = null;
    p.sender.onStanza = null;
  }
  return {
    perSec: counted / (o.measureMs / 1000),
    sent,
    delivered,
    lost: sent - delivered,
    loss: lossReport(pairs, sentBy, gotBy, bounces, bounced),
    loadgenCpu,
    windowNs: [String(ns0), String(ns1)],
  };
}

export interface LatencyResult {
  rate: number;
  achievedRate: number;
  count: number;
  lost: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  loadgenCpu: number;
  /**
   * The generator's own share of the latency (ms): how late it wrote messages after their intended time (p50, p99),
   * and its event-loop turns over 1 ms (how many, their sum, the longest): a message that arrives during a long
   * turn is read late.
   */
  sendLagP50: number;
  sendLagP99: number;
  longTurns: number;
  longTurnsMs: number;
  turnMax: number;
  /** Garbage collections in the generator while measuring: how many, the longest and their sum, ms. */
  gcCount: number;
  gcMaxMs: number;
  gcTotalMs: number;
  /** The same by kind (minor, major, incremental, weakcb): "kind count/max ms". */
  gcKinds: string;
  /** Time the generator was runnable but waited for its core while measuring (other work on core 0), ms. */
  runDelayMs: number;
}

const GC_KINDS: Record<number, string> = { 1: 'minor', 4: 'major', 8: 'incremental', 16: 'weakcb' };

export async function latency(
  conns: Conn[],
  o: { pairs: number; rate: number; warmupMs: number; durationMs: number },
): Promise<LatencyResult> {
  const pairs = makePairs(conns, o.pairs);
  const total = Math.max(1, Math.round((o.rate * (o.warmupMs + o.durationMs)) / 1000));
  const interval = 1000 / o.rate;
  const samples = new SampleBuffer(Math.round((o.rate * o.durationMs) / 1000) + 16);
  const start = performance.now() + 20;
  const measureFrom = start + o.warmupMs;
  let received = 0;
  for (const p of pairs) {
    p.receiver.onStanza = (c, xml) => {
      if (!xml.startsWith('<message')) return;
      received++;
      const body = childText(xml, 'body');
      const t = body === undefined ? Number.NaN : Number.parseFloat(body.slice(1));
      if (t >= measureFrom) samples.push(c.recvAt - t);
    };
  }
  let sent = 0;
  let cpu0 = process.cpuUsage();
  let wall0 = performance.now();
  let lastSend = 0;
  // Sized up front like `samples`: growing a large buffer mid-run stalled the generator for milliseconds.
  const sendLag = new SampleBuffer(Math.round((o.rate * o.durationMs) / 1000) + 16);
  const turns = { long: 0, longMs: 0, max: 0 };
  const debugTurns = process.env.SB_BENCH_DEBUG_TURNS === '1';
  let lastTick = 0;
  const gc = { count: 0, max: 0, total: 0 };
  const kinds = new Map<number, { count: number; max: number }>();
  let runDelay0 = 0;
  let runDelay = 0;
  const gcObserver = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime < measureFrom) continue;
      gc.count++;
      gc.total += e.duration;
      gc.max = Math.max(gc.max, e.duration);
      const kind = (e as PerformanceEntry & { detail?: { kind?: number } }).detail?.kind ?? 0;
      const k = kinds.get(kind) ?? { count: 0, max: 0 };
      k.count++;
      k.max = Math.max(k.max, e.duration);
      kinds.set(kind, k);
    }
  });
  gcObserver.observe({ entryTypes: ['gc'] });
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const now = performance.now();
      if (sent === 0 || (now >= measureFrom && wall0 < measureFrom)) {
        cpu0 = process.cpuUsage();
        wall0 = now;
      }
      const measuring = now >= measureFrom;
      if (measuring && lastTick < measureFrom) runDelay0 = runDelayMsOf('self');
      if (measuring && lastTick >= measureFrom) {
        const turn = now - lastTick;
        if (turn > 1) {
          turns.long++;
          turns.longMs += turn;
          if (turn > turns.max) turns.max = turn;
          if (debugTurns && turn > 5)
            console.error(`turn ${turn.toFixed(1)} ms at +${(lastTick - measureFrom).toFixed(0)} ms`);
        }
      }
      lastTick = now;
      const due = Math.min(total, Math.floor((now - start) / interval) + 1);
      while (sent < due) {
        const p = pairs[sent % pairs.length] as Pair;
        const intended = start + sent * interval;
        if (measuring) sendLag.push(now - intended);
        p.sender.write(encode(p, `t${intended.toFixed(3)} ${PAYLOAD}`));
        sent++;
      }
      lastSend = now;
      // Polling (not a 1 ms timer) sends each message close to its time and reads arrivals as they come; the
      // generator's core is its own, so spinning costs nothing that is measured.
      if (sent < total) setImmediate(tick);
      else {
        runDelay = runDelayMsOf('self') - runDelay0;
        resolve();
      }
    };
    setTimeout(tick, Math.max(0, start - performance.now()));
  });
  const cpu = process.cpuUsage(cpu0);
  const loadgenCpu = (cpu.user + cpu.system) / 1000 / Math.max(1, lastSend - wall0);
  await drain(() => received >= sent, 10_000);
  gcObserver.disconnect();
  for (const p of pairs) p.receiver.onStanza = null;
  const sorted = samples.sorted();
  const lags = sendLag.sorted();
  return {
    rate: o.rate,
    achievedRate: (sent / Math.max(1, lastSend - start)) * 1000,
    count: sorted.length,
    lost: sent - received,
    p50: percentileSorted(sorted, 50),
    p90: percentileSorted(sorted, 90),
    p99: percentileSorted(sorted, 99),
    p999: percentileSorted(sorted, 99.9),
    max: percentileSorted(sorted, 100),
    loadgenCpu,
    sendLagP50: percentileSorted(lags, 50),
    sendLagP99: percentileSorted(lags, 99),
    longTurns: turns.long,
    longTurnsMs: turns.longMs,
    turnMax: turns.max,
    gcCount: gc.count,
    gcMaxMs: gc.max,
    gcTotalMs: gc.total,
    gcKinds: [...kinds].map(([kind, k]) => `${GC_KINDS[kind] ?? kind} ${k.count}/${k.max.toFixed(1)}`).join(', '),
    runDelayMs: runDelay,
  };
}
