// The scenarios, as the harness drives them: start load generators, send them commands, read the server's
// RSS and CPU time around each phase, and collect one figure per run.
import { CoreHolder } from './core-holder.js';
import type { Target } from './load/conn.js';
import type { LatencyResult, ThroughputResult } from './load/messages.js';
import type { PresenceChangeResult } from './load/presence.js';
import type { LoginReply } from './loadgen.js';
import { LoadGen } from './loadgen-client.js';
import type { Scale } from './options.js';
import {
  BENCH_DOMAIN,
  BENCH_HOST,
  type BenchUsers,
  type Launcher,
  runDelayMsOf,
  SERVER_CORE,
  type ServerHandle,
  sleep,
} from './servers/common.js';
import { summarize } from './stats.js';

export type Log = (msg: string) => void;

export interface LoginFigures {
  /** The first pass, each account's first login since the server started (cold caches); one value per run set. */
  coldPerSec: number[];
  perSec: number[];
  serverCpuMsPerLogin: number[];
  loadgenCpu: number[];
  failed: number;
  tls: string;
}

export interface IdleStep {
  sessions: number;
  bytesPerSession: number[];
  rssBytes: number[];
  /** Per session, from the server's own accounting where it has one (Switchboard: V8 heap, external). */
  detailPerSession: Record<string, number>[];
}

export interface IdleFigures {
  baseRssBytes: number[];
  steps: IdleStep[];
  failed: number;
  /** From closing every session until the server's CPU use has settled (logout work done), ms. */
  logoutMs: number[];
}

export interface MessageFigures {
  peak: number[];
  serverCpuUsPerMsg: number[];
  loadgenCpuAtPeak: number[];
  lost: number;
  latencyRate: number;
  p50: number[];
  p99: number[];
  p999: number[];
  latencyLost: number;
  /** Share of its core the server used during the half-peak latency runs. */
  serverBusyAtHalf: number[];
  /**
   * The same measurement at one rate equal for every server: 50% of the better median peak of Prosody and ejabberd
   * in the same bench run, or the configured `commonRate` when neither has one (see `BenchReport.commonRate`).
   * Measured in a second pass, once every server's peak is known, on a freshly started server.
   */
  commonRate: number;
  p50Common: number[];
  p99Common: number[];
  p999Common?: number[];
  /** Share of its core the server used during the common-rate runs (above ~0.9: at or past its capacity). */
  serverBusyAtCommon?: number[];
  /** Messages per second the generator actually sent in the common-rate runs. */
  achievedCommon?: number[];
  /** Messages not received after the drain period of the common-rate runs (also counted in `latencyLost`). */
  commonLost?: number;
  /** --rates: latency at each rate, one entry per run. */
  sweep?: SweepPoint[];
}

export interface SweepPoint {
  rate: number;
  achievedRate: number;
  p50: number;
  p99: number;
  p999: number;
  lost: number;
  serverBusy: number;
  /** The generator's share (see LatencyResult), ms. */
  sendLagP99: number;
  longTurns: number;
  turnMax: number;
  genGcCount: number;
  genGcMaxMs: number;
  genRunDelayMs: number;
  /** Time the server waited for its core during the run (other work on core 1), ms. */
  serverRunDelayMs: number;
  /** The server's event-loop delay during the run, ms, where it reports one. */
  serverLoopP99?: number;
  serverLoopMax?: number;
}

export interface PresenceFigures {
  /** Login with initial presence of every user until every contact's presence arrived. */
  loginMs: number[];
  changeMs: number[];
  changePerSec: number[];
  delivered: number[];
  expected: number;
  complete: boolean;
  duplicates: number;
}

/** Loopback source addresses for the generator's connections (127/8 is all loopback on Linux). */
const SOURCES = Array.from({ length: 8 }, (_, i) => `127.0.0.${i + 1}`);

export function targetOf(server: ServerHandle, users: BenchUsers): Target {
  return {
    mode: server.mode,
    host: BENCH_HOST,
    port: server.port,
    domain: BENCH_DOMAIN,
    password: users.credentials.password,
    sourceAddresses: SOURCES,
  };
}

function login(
  lg: LoadGen,
  target: Target,
  users: string[],
  firstIndex: number,
  concurrency: number,
  expectPresence = 0,
): Promise<LoginReply> {
  return lg.send<LoginReply>({
    cmd: 'login',
    target,
    users,
    firstIndex,
    concurrency,
    presence: true,
    ...(expectPresence ? { expectPresence } : {}),
  });
}

function checkLogin(r: LoginReply, what: string): void {
  if (r.failed > 0) throw new Error(`${what}: ${r.failed} login(s) failed, e.g. ${r.errors.join('; ')}`);
}

export async function runLogin(server: ServerHandle, users: BenchUsers, s: Scale, log: Log): Promise<LoginFigures> {
  const lg = await LoadGen.start(process.cwd());
  const target = targetOf(server, users);
  const list = users.general.slice(0, s.loginUsers);
  const out: LoginFigures = { coldPerSec: [], perSec: [], serverCpuMsPerLogin: [], loadgenCpu: [], failed: 0, tls: '' };
  try {
    // Warm-up: the generator derives the SCRAM keys once, the server fills its caches and JIT. Reported apart as
    // the cold figure; the measured runs log the same accounts in again, as reconnecting clients do.
    const cold = await login(lg, target, list, 0, s.loginConcurrency);
    checkLogin(cold, 'warm-up');
    out.coldPerSec.push(cold.perSec);
    log(`  login warm-up (first login of each account): ${cold.perSec.toFixed(0)}/s`);
    await lg.send({ cmd: 'close' });
    for (let run = 1; run <= s.runs; run++) {
      await quiesce(server);
      const cpu0 = server.cpuMs();
      const r = await login(lg, target, list, 0, s.loginConcurrency);
      const cpu = server.cpuMs() - cpu0;
      out.failed += r.failed;
      out.tls = r.tlsProtocol;
      out.perSec.push(r.perSec);
      out.serverCpuMsPerLogin.push(cpu / Math.max(1, r.ok));
      out.loadgenCpu.push(r.loadgenCpu);
      log(
        `  login run ${run}: ${r.perSec.toFixed(0)}/s, server ${(cpu / r.ok).toFixed(2)} ms CPU per login, ${r.failed} failed`,
      );
      await lg.send({ cmd: 'close' });
    }
    await quiesce(server);
  } finally {
    await lg.exit();
  }
  return out;
}

/**
 * Waits until the server is idle, so that work left over from one phase (logouts writing to storage, say) is not
 * charged to the next: under 5% of a core and under 64 KiB written over half a second (storage that waits on the
 * disk uses little CPU). Returns the time it took, NaN after `maxMs`.
 */
export async function quiesce(server: ServerHandle, maxMs = 120_000): Promise<number> {
  const started = Date.now();
  let cpu = server.cpuMs();
  let written = server.writtenBytes();
  for (;;) {
    await sleep(500);
    const cpuNow = server.cpuMs();
    const writtenNow = server.writtenBytes();
    if (cpuNow - cpu < 25 && writtenNow - written < 65_536) return Date.now() - started;
    cpu = cpuNow;
    written = writtenNow;
    if (Date.now() - started > maxMs) return Number.NaN;
  }
}

async function steadyRss(server: ServerHandle, samples = 5): Promise<number> {
  const values: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(1000);
    values.push(server.rss());
  }
  return summarize(values).median;
}

/** Idle sessions: a fresh server per run; RSS read at each step, after the sessions have settled. */
export async function runIdle(launcher: Launcher, users: BenchUsers, s: Scale, log: Log): Promise<IdleFigures> {
  const out: IdleFigures = {
    baseRssBytes: [],
    steps: s.idleSteps.map((n) => ({ sessions: n, bytesPerSession: [], rssBytes: [], detailPerSession: [] })),
    failed: 0,
    logoutMs: [],
  };
  for (let run = 1; run <= s.runs; run++) {
    const server = await launcher.start();
    const gens: LoadGen[] = [];
    try {
      await sleep(2000);
      const base = await steadyRss(server, 3);
      const baseDetail = (await server.memoryDetail?.()) ?? {};
      out.baseRssBytes.push(base);
      for (let k = 0; k < s.idleProcs; k++) gens.push(await LoadGen.start(process.cwd()));
      const target = targetOf(server, users);
      let held = 0;
      for (const step of out.steps) {
        const slice = users.general.slice(held, step.sessions);
        const per = Math.ceil(slice.length / gens.length);
        const replies = await Promise.all(
          gens.map((lg, k) =>
            login(
              lg,
              target,
              slice.slice(k * per, (k + 1) * per),
              held + k * per,
              Math.ceil(s.loginConcurrency / gens.length),
            ),
          ),
        );
        for (const r of replies) checkLogin(r, `idle ${step.sessions}`);
        held = step.sessions;
        await sleep(3000);
        const rss = await steadyRss(server, 3);
        step.rssBytes.push(rss);
        step.bytesPerSession.push((rss - base) / step.sessions);
        const detail = (await server.memoryDetail?.()) ?? {};
        step.detailPerSession.push(
          Object.fromEntries(Object.entries(detail).map(([k, v]) => [k, (v - (baseDetail[k] ?? 0)) / step.sessions])),
        );
        log(
          `  idle run ${run}: ${step.sessions} sessions, RSS ${(rss / 2 ** 20).toFixed(1)} MiB (base ${(base / 2 ** 20).toFixed(1)}), ${((rss - base) / step.sessions / 1024).toFixed(1)} KiB/session`,
        );
      }
      const closing = Date.now();
      await Promise.all(gens.map((lg) => lg.send({ cmd: 'close' })));
      const settled = await quiesce(server);
      out.logoutMs.push(Number.isNaN(settled) ? Number.NaN : Date.now() - closing);
      log(
        `  idle run ${run}: closing ${held} sessions took ${((Date.now() - closing) / 1000).toFixed(1)} s until the server was idle`,
      );
    } finally {
      await Promise.all(gens.map((lg) => lg.exit()));
      await server.stop();
    }
  }
  return out;
}

/** Peak throughput over `runs` runs, then latency at half the median peak (the common rate: runCommonLatency). */
export async function runMessages(
  server: ServerHandle,
  users: BenchUsers,
  s: Scale,
  log: Log,
): Promise<MessageFigures> {
  const lg = await LoadGen.start(process.cwd());
  const out: MessageFigures = {
    peak: [],
    serverCpuUsPerMsg: [],
    loadgenCpuAtPeak: [],
    lost: 0,
    latencyRate: 0,
    p50: [],
    p99: [],
    p999: [],
    latencyLost: 0,
    serverBusyAtHalf: [],
    commonRate: s.commonRate,
    p50Common: [],
    p99Common: [],
  };
  try {
    checkLogin(
      await login(lg, targetOf(server, users), users.general.slice(0, 2 * s.pairs), 0, s.loginConcurrency),
      'messages',
    );
    await quiesce(server);
    if (s.sweepRates) {
      out.sweep = [];
      for (const rate of s.sweepRates) {
        for (let run = 1; run <= s.runs; run++) {
          const r = await latencyRun(server, lg, s, rate);
          const point: SweepPoint = {
            rate,
            achievedRate: r.achievedRate,
            p50: r.p50,
            p99: r.p99,
            p999: r.p999,
            lost: r.lost,
            serverBusy: r.serverBusy,
            sendLagP99: r.sendLagP99,
            longTurns: r.longTurns,
            turnMax: r.turnMax,
            genGcCount: r.gcCount,
            genGcMaxMs: r.gcMaxMs,
            genRunDelayMs: r.runDelayMs,
            serverRunDelayMs: r.serverRunDelay,
            ...(r.serverLoop ? { serverLoopP99: r.serverLoop.p99, serverLoopMax: r.serverLoop.max } : {}),
          };
          out.sweep.push(point);
          out.latencyLost += r.lost;
          const f = (v: number | undefined) => (v === undefined ? '-' : v.toFixed(2));
          log(
            `  sweep ${rate}/s (achieved ${r.achievedRate.toFixed(0)}/s): p50 ${f(r.p50)} ms, p99 ${f(r.p99)} ms, p99.9 ${f(r.p999)} ms, ${r.lost} lost; server at ${(r.serverBusy * 100).toFixed(0)}% of its core, its loop delay p99 ${f(point.serverLoopP99)} max ${f(point.serverLoopMax)} ms; generator send lag p50 ${f(r.sendLagP50)} p99 ${f(r.sendLagP99)} ms, ${r.longTurns} turns over 1 ms (${f(r.longTurnsMs)} ms in all, longest ${f(r.turnMax)}), GCs (kind count/max ms) ${r.gcKinds}, waited for its core ${f(r.runDelayMs)} ms; server waited for its core ${f(r.serverRunDelay)} ms`,
          );
        }
      }
      await lg.send({ cmd: 'close' });
      return out;
    }
    for (let run = 1; run <= s.runs; run++) {
      const cpu0 = server.cpuMs();
      const r = await lg.send<ThroughputResult>({
        cmd: 'throughput',
        pairs: s.pairs,
        window: s.window,
        warmupMs: s.warmupMs,
        measureMs: s.measureMs,
      });
      const cpu = server.cpuMs() - cpu0;
      out.peak.push(r.perSec);
      out.serverCpuUsPerMsg.push((cpu * 1000) / Math.max(1, r.delivered));
      out.loadgenCpuAtPeak.push(r.loadgenCpu);
      out.lost += r.lost;
      log(
        `  messages run ${run}: ${r.perSec.toFixed(0)}/s delivered, server ${((cpu * 1000) / r.delivered).toFixed(1)} µs CPU per message, generator at ${(r.loadgenCpu * 100).toFixed(0)}% of its core, ${r.lost} lost`,
      );
      if (r.lost !== 0) log(`  messages run ${run}: where the lost ones went: ${JSON.stringify(r.loss)}`);
      await sleep(500);
    }
    out.latencyRate = Math.max(1, Math.round(summarize(out.peak).median / 2));
    for (let run = 1; run <= s.runs; run++) {
      const r = await latencyRun(server, lg, s, out.latencyRate);
      out.p50.push(r.p50);
      out.p99.push(r.p99);
      out.p999.push(r.p999);
      out.latencyLost += r.lost;
      out.serverBusyAtHalf.push(r.serverBusy);
      log(
        `  latency run ${run} at ${out.latencyRate}/s (half of peak): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, p99.9 ${r.p999.toFixed(2)} ms, ${r.lost} lost, server at ${(r.serverBusy * 100).toFixed(0)}% of its core; waiting for their cores (other work): server ${r.serverRunDelay.toFixed(0)} ms, generator ${r.runDelayMs.toFixed(0)} ms`,
      );
    }
    // The common-rate runs come later (runCommonLatency), once every server's peak is known.
    await lg.send({ cmd: 'close' });
  } finally {
    await lg.exit();
  }
  return out;
}

export interface CommonLatency {
  rate: number;
  p50: number[];
  p99: number[];
  p999: number[];
  serverBusy: number[];
  achievedRate: number[];
  lost: number;
}

/**
 * Second pass of the message scenario: `runs` open-loop latency runs at `rate`, the same for every server, on a
 * server started for it (the same 2 × pairs users log in again). A server past its capacity at that rate is measured
 * all the same: each run sends a fixed count, drains for a bounded time and counts what never arrived as lost.
 */
export async function runCommonLatency(
  server: ServerHandle,
  users: BenchUsers,
  s: Scale,
  rate: number,
  log: Log,
): Promise<CommonLatency> {
  const lg = await LoadGen.start(process.cwd());
  const out: CommonLatency = { rate, p50: [], p99: [], p999: [], serverBusy: [], achievedRate: [], lost: 0 };
  try {
    checkLogin(
      await login(lg, targetOf(server, users), users.general.slice(0, 2 * s.pairs), 0, s.loginConcurrency),
      'messages (common rate)',
    );
    await quiesce(server);
    for (let run = 1; run <= s.runs; run++) {
      const r = await latencyRun(server, lg, s, rate);
      out.p50.push(r.p50);
      out.p99.push(r.p99);
      out.p999.push(r.p999);
      out.serverBusy.push(r.serverBusy);
      out.achievedRate.push(r.achievedRate);
      out.lost += r.lost;
      log(
        `  latency run ${run} at ${rate}/s (common rate): p50 ${r.p50.toFixed(2)} ms, p99 ${r.p99.toFixed(2)} ms, p99.9 ${r.p999.toFixed(2)} ms, ${r.lost} lost, server at ${(r.serverBusy * 100).toFixed(0)}% of its core`,
      );
    }
    await lg.send({ cmd: 'close' });
  } finally {
    await lg.exit();
  }
  return out;
}

/**
 * One open-loop latency run; the server's core is held meanwhile (see core-holder.ts). `serverBusy` is the share of
 * its core the server used: near 1 means the rate is at its capacity for messages that arrive one by one.
 */
async function latencyRun(
  server: ServerHandle,
  lg: LoadGen,
  s: Scale,
  rate: number,
): Promise<
  LatencyResult & { serverBusy: number; serverRunDelay: number; serverLoop?: { p50: number; p99: number; max: number } }
> {
  await quiesce(server, 15_000);
  const holder = CoreHolder.start([SERVER_CORE]);
  try {
    await server.loopDelay?.();
    const cpu0 = server.cpuMs();
    const delay0 = runDelayMsOf(server.pid);
    const t0 = Date.now();
    const r = await lg.send<LatencyResult>({
      cmd: 'latency',
      pairs: s.pairs,
      rate,
      warmupMs: s.warmupMs,
      durationMs: s.latencyMs,
    });
    const serverBusy = (server.cpuMs() - cpu0) / Math.max(1, Date.now() - t0);
    const serverRunDelay = runDelayMsOf(server.pid) - delay0;
    const serverLoop = await server.loopDelay?.();
    return { ...r, serverBusy, serverRunDelay, ...(serverLoop ? { serverLoop } : {}) };
  } finally {
    await holder.stop();
  }
}

export async function runPresence(
  server: ServerHandle,
  users: BenchUsers,
  s: Scale,
  log: Log,
): Promise<PresenceFigures> {
  const expected = users.presence.length * users.contacts;
  const out: PresenceFigures = {
    loginMs: [],
    changeMs: [],
    changePerSec: [],
    delivered: [],
    expected,
    complete: true,
    duplicates: 0,
  };
  for (let run = 1; run <= s.runs; run++) {
    await quiesce(server);
    const lg = await LoadGen.start(process.cwd());
    try {
      const r = await login(lg, targetOf(server, users), users.presence, 0, s.loginConcurrency, expected);
      checkLogin(r, 'presence');
      const p = r.presence;
      if (!p) throw new Error('no presence figures');
      // The logins' own work (roster loads, probes) is done before the change is timed.
      await quiesce(server, 30_000);
      const c = await lg.send<PresenceChangeResult>({ cmd: 'presence-change', expected, timeoutMs: 60_000 });
      out.loginMs.push(p.complete ? p.elapsedMs : Number.NaN);
      out.changeMs.push(c.complete ? c.elapsedMs : Number.NaN);
      out.changePerSec.push(c.complete ? c.perSec : Number.NaN);
      out.delivered.push(p.delivered, c.delivered);
      out.complete &&= p.complete && c.complete;
      out.duplicates += p.raw - p.delivered + (c.raw - c.delivered);
      log(
        `  presence run ${run}: login+initial ${p.elapsedMs.toFixed(0)} ms (${p.delivered}/${expected} contacts' presence, ${p.raw - p.delivered} duplicates), change ${c.elapsedMs.toFixed(0)} ms (${c.delivered}/${expected}, ${c.perSec.toFixed(0)}/s)`,
      );
      await lg.send({ cmd: 'close' });
    } finally {
      await lg.exit();
    }
  }
  await quiesce(server);
  return out;
}
