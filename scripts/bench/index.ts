// npm run bench: Switchboard, Prosody, ejabberd and a no-XML relay under the same load, side by side.
// Options: see options.ts (--quick, --only, --servers, --runs, --no-profile, --write/--no-write, --keep).
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, freemem, loadavg, release, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import type { ThroughputResult } from './load/messages.js';
import { LoadGen } from './loadgen-client.js';
import { type BenchOptions, parseOptions, type ServerName } from './options.js';
import { newestProfile, summarizeProfile } from './profile.js';
import { type BenchReport, chooseCommonRate, mergeDocument, renderMarkdown, type ServerResult } from './report.js';
import { runCommonLatency, runMessages } from './scenario-messages.js';
import { type Log, runIdle, runLogin, runPresence, targetOf } from './scenarios.js';
import { type BenchUsers, type Launcher, makeCertificate, makeUsers, type ServerHandle } from './servers/common.js';
import { ejabberdLauncher } from './servers/ejabberd.js';
import { prosodyLauncher } from './servers/prosody.js';
import { relayLauncher } from './servers/relay.js';
import { switchboardLauncher } from './servers/switchboard.js';
import { raiseSessionPriority, runInOwnSession } from './session.js';

const log: Log = (msg) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${msg}`);
const repo = process.cwd();

function machine(priority: string): Record<string, string> {
  const os = readFileSync('/etc/os-release', 'utf8').match(/PRETTY_NAME="([^"]+)"/)?.[1] ?? 'Linux';
  const fdLimit = execFileSync('sh', ['-c', 'ulimit -n'], { encoding: 'utf8' }).trim();
  return {
    CPU: `${cpus()[0]?.model ?? '?'} × ${cpus().length} cores`,
    memory: `${(totalmem() / 2 ** 30).toFixed(1)} GiB (${(freemem() / 2 ** 30).toFixed(1)} GiB free at start)`,
    system: `${os}, Linux ${release()}, open files per process: ${fdLimit}`,
    pinning: `load generator on core 0, server under test on core 1 (taskset); ${priority}`,
    'load average at start': loadavg()
      .map((v) => v.toFixed(2))
      .join(' '),
  };
}

function launchers(o: BenchOptions, dir: string, tls: { cert: string; key: string; both: string }): Launcher[] {
  const make: Record<ServerName, () => Launcher> = {
    switchboard: () => switchboardLauncher({ repo, dir, cert: tls.cert, key: tls.key }),
    prosody: () => prosodyLauncher({ dir, cert: tls.cert, key: tls.key }),
    ejabberd: () => ejabberdLauncher({ dir, both: tls.both }),
    relay: () => relayLauncher({ repo, dir, cert: tls.cert, key: tls.key }),
  };
  return o.servers.map((n) => tracked(make[n]()));
}

async function attempt<T>(result: ServerResult, scenario: string, fn: () => Promise<T>): Promise<T | undefined> {
  try {
    return await fn();
  } catch (err) {
    const text = err instanceof Error ? err.message : String(err);
    result.errors[scenario] = text;
    log(`  ${result.name} ${scenario} FAILED: ${text}`);
    return undefined;
  }
}

/**
 * A fresh server for each scenario: what one leaves behind (a logout backlog in storage, a grown heap) is not
 * charged to the next.
 */
async function withServer<T>(l: Launcher, fn: (server: ServerHandle) => Promise<T>): Promise<T> {
  const server = await l.start();
  try {
    return await fn(server);
  } finally {
    await server.stop();
  }
}

/**
 * Second pass of the message scenario, once every server's peak is known: latency at one rate for all of them
 * (chooseCommonRate), each on a server started for it.
 */
async function benchCommonRate(list: Launcher[], users: BenchUsers, o: BenchOptions, report: BenchReport) {
  const choice = chooseCommonRate(report.servers, o.scale.commonRate);
  report.commonRate = choice;
  log(
    choice.basis === 'competitor'
      ? `common latency rate: ${choice.rate}/s, 50% of ${choice.from}'s median peak (${Math.round(choice.peak ?? 0)}/s)`
      : `common latency rate: ${choice.rate}/s, the configured rate (no Prosody or ejabberd peak in this run)`,
  );
  for (const l of list) {
    const result = report.servers.find((r) => r.name === l.name);
    const m = result?.messages;
    if (!result || !m) continue;
    log(`${l.name}: latency at the common rate, ${choice.rate}/s`);
    const c = await attempt(result, 'messages (common rate)', () =>
      withServer(l, (s) => runCommonLatency(s, users, o.scale, choice.rate, log)),
    );
    m.commonRate = choice.rate;
    if (!c) continue;
    m.p50Common = c.p50;
    m.p99Common = c.p99;
    m.p999Common = c.p999;
    m.serverBusyAtCommon = c.serverBusy;
    m.achievedCommon = c.achievedRate;
    m.commonLost = c.lost;
    m.latencyLost += c.lost;
  }
}

async function benchServer(l: Launcher, users: BenchUsers, o: BenchOptions): Promise<ServerResult> {
  const name = l.name as ServerName;
  log(`${name}: preparing accounts and rosters`);
  await l.prepare(users);
  const result: ServerResult = { name, version: l.version(), errors: {} };
  log(`${name} ${result.version}`);
  const xmpp = name !== 'relay';
  // The relay holds bare TLS connections: the memory floor of a Node TLS socket, as its message figures are the
  // floor of forwarding.
  if (o.only.has('idle')) result.idle = await attempt(result, 'idle', () => runIdle(l, users, o.scale, log));
  const fresh = <T>(fn: (server: ServerHandle) => Promise<T>): Promise<T> => withServer(l, fn);
  if (xmpp && o.only.has('login'))
    result.login = await attempt(result, 'login', () => fresh((s) => runLogin(s, users, o.scale, log)));
  if (o.only.has('messages'))
    result.messages = await attempt(result, 'messages', () => fresh((s) => runMessages(s, users, o.scale, log)));
  if (xmpp && o.only.has('presence'))
    result.presence = await attempt(result, 'presence', () => fresh((s) => runPresence(s, users, o.scale, log)));
  return result;
}

/** Servers started and not yet stopped, so that an interrupted bench does not leave them running. */
const running = new Set<ServerHandle>();

function tracked(l: Launcher): Launcher {
  return {
    name: l.name,
    version: () => l.version(),
    prepare: (users) => l.prepare(users),
    start: async (opts) => {
      const server = await l.start(opts);
      running.add(server);
      return {
        ...server,
        stop: async () => {
          running.delete(server);
          await server.stop();
        },
      };
    },
  };
}

function stopOnSignal(): void {
  const stop = (signal: NodeJS.Signals): void => {
    log(`${signal}: stopping ${running.size} server(s)`);
    void Promise.all([...running].map((s) => s.stop())).finally(() => process.exit(130));
  };
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
}

/** One more message run against Switchboard started with --cpu-prof; the profile is written when it exits. */
async function profileSwitchboard(l: Launcher, users: BenchUsers, o: BenchOptions, dir: string) {
  const profDir = join(dir, 'cpu-profile');
  mkdirSync(profDir, { recursive: true });
  log('switchboard: profiling the message scenario (--cpu-prof)');
  const server = await l.start({ cpuProfDir: profDir });
  const lg = await LoadGen.start(repo);
  let window: { fromUs: number; toUs: number } | undefined;
  try {
    const target = targetOf(server, users);
    await lg.send({
      cmd: 'login',
      target,
      users: users.general.slice(0, 2 * o.scale.pairs),
      firstIndex: 0,
      concurrency: o.scale.loginConcurrency,
      presence: true,
    });
    const s = o.scale;
    const r = await lg.send<ThroughputResult>({
      cmd: 'throughput',
      pairs: s.pairs,
      window: s.window,
      warmupMs: s.warmupMs,
      measureMs: s.measureMs,
    });
    log(`  profiled run: ${r.perSec.toFixed(0)} messages/s (the profiler's sampling costs a little)`);
    window = { fromUs: Number(BigInt(r.windowNs[0]) / 1000n), toUs: Number(BigInt(r.windowNs[1]) / 1000n) };
    await lg.send({ cmd: 'close' });
  } finally {
    await lg.exit();
    await server.stop();
  }
  const file = newestProfile(profDir);
  if (!file) throw new Error('no .cpuprofile written (did the server exit cleanly?)');
  return summarizeProfile(file, repo, window);
}

async function main(): Promise<void> {
  const o = parseOptions(process.argv.slice(2));
  const priority = raiseSessionPriority(o.priority);
  stopOnSignal();
  const started = Date.now();
  const dir = mkdtempSync(join(tmpdir(), 'switchboard-bench-'));
  log(`working directory ${dir}`);
  const report: BenchReport = {
    date: new Date().toISOString(),
    command: ['npm run bench', ...(o.argv.length ? ['--', ...o.argv] : [])].join(' '),
    quick: o.quick,
    runs: o.scale.runs,
    machine: machine(priority),
    scale: { ...o.scale },
    servers: [],
    notRun: {},
  };
  if (o.only.has('idle') && !o.quick) {
    report.notRun['2 idle memory at 50,000 sessions'] =
      'impossible here: a process may open at most 20,000 files, and the server needs one socket per session; measured at 10,000 and 18,000 instead';
  }
  if (o.only.has('muc')) report.notRun['5 group chat fan-out'] = 'Switchboard has no MUC (XEP-0045) module yet';
  try {
    const tls = makeCertificate(dir);
    const s = o.scale;
    const general = Math.max(
      s.loginUsers,
      2 * s.pairs,
      o.only.has('idle') ? (s.idleSteps[s.idleSteps.length - 1] ?? 0) : 0,
    );
    const users = makeUsers(general, s.presenceUsers, s.contacts);
    const list = launchers(o, dir, tls);
    for (const l of list) report.servers.push(await benchServer(l, users, o));
    if (o.only.has('messages') && !s.sweepRates) await benchCommonRate(list, users, o, report);
    const sb = list.find((l) => l.name === 'switchboard');
    if (sb && o.profile && o.only.has('messages')) {
      try {
        report.profile = await profileSwitchboard(sb, users, o, dir);
      } catch (err) {
        log(`profile failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  } finally {
    report.machine['load average at end'] = loadavg()
      .map((v) => v.toFixed(2))
      .join(' ');
    report.machine['bench duration'] = `${((Date.now() - started) / 60_000).toFixed(1)} min`;
    if (!o.keep) rmSync(dir, { recursive: true, force: true });
  }
  const section = renderMarkdown(report);
  console.log(`\n${section}\n`);
  if (o.write) {
    const md = join(repo, 'docs', 'benchmarks.md');
    writeFileSync(md, mergeDocument(existsSync(md) ? readFileSync(md, 'utf8') : undefined, section));
    writeFileSync(join(repo, 'docs', 'benchmarks.json'), `${JSON.stringify(report, null, 2)}\n`);
    log('wrote docs/benchmarks.md and docs/benchmarks.json');
  }
}

const code = await runInOwnSession();
if (code !== null) process.exitCode = code;
else
  await main().catch((err: unknown) => {
    console.error(err instanceof Error ? err.message : err);
    process.exitCode = 1;
  });
