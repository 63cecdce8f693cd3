import type { Target } from './load/conn.js';
import type { PresenceChangeResult } from './load/presence.js';
import type { LoginReply } from './loadgen.js';
import { LoadGen } from './loadgen-client.js';
import type { Scale } from './options.js';
import {
  BENCH_DOMAIN,
  BENCH_HOST,
  type BenchUsers,
  type Launcher,
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

export function login(
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

export function checkLogin(r: LoginReply, what: string): void {
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
