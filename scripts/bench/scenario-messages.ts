// The message scenario (issue 8, scenario 3): peak one-to-one throughput, latency at half of the server's own
// peak, and latency at one rate shared by every server (50% of the better competitor's peak, second pass).
import { CoreHolder } from './core-holder.js';
import type { LatencyResult, ThroughputResult } from './load/messages.js';
import { LoadGen } from './loadgen-client.js';
import type { Scale } from './options.js';
import { checkLogin, type Log, login, quiesce, targetOf } from './scenarios.js';
import { type BenchUsers, runDelayMsOf, SERVER_CORE, type ServerHandle, sleep } from './servers/common.js';
import { summarize } from './stats.js';

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
