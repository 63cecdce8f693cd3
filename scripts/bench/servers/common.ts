// What every server launcher shares: pinned processes, port waits, RSS readings, the certificate and users.
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { openSync, readFileSync } from 'node:fs';
import net from 'node:net';
import { join } from 'node:path';

export const BENCH_DOMAIN = 'localhost';
export const BENCH_HOST = '127.0.0.1';
/** The load generator runs on core 0, every server under test on core 1. */
export const LOADGEN_CORE = '0';
export const SERVER_CORE = '1';

/** taskset execs, so the process started this way keeps the PID of the command. */
export function pinned(core: string, cmd: string, args: string[]): [string, string[]] {
  return ['taskset', ['-c', core, cmd, ...args]];
}

export interface ServerHandle {
  readonly name: string;
  readonly pid: number;
  readonly port: number;
  readonly mode: 'xmpp' | 'relay';
  /** Resident set size of the server process, in bytes. */
  rss(): number;
  /** CPU time the server process has used so far, in milliseconds. */
  cpuMs(): number;
  /** Bytes the server has written so far (files and sockets). */
  writtenBytes(): number;
  /** Where the memory goes, in bytes, when the server can tell (Switchboard: its own /metrics). */
  memoryDetail?(): Promise<Record<string, number>>;
  /**
   * The server's event-loop delay since the previous call, ms (Switchboard: prom-client's monitorEventLoopDelay,
   * which restarts at each read of /metrics).
   */
  loopDelay?(): Promise<{ p50: number; p99: number; max: number }>;
  stop(): Promise<void>;
}

export interface StartOptions {
  /** Switchboard only: write a V8 CPU profile into this directory. */
  cpuProfDir?: string;
  /** Switchboard only: more Node options (e.g. --heapsnapshot-signal=SIGUSR2 when looking at memory). */
  nodeArgs?: string[];
}

export interface Launcher {
  readonly name: string;
  version(): string;
  /** Provisions accounts and rosters (once per bench run). */
  prepare(users: BenchUsers): Promise<void>;
  start(opts?: StartOptions): Promise<ServerHandle>;
}

/** Starts `cmd` pinned to a core; its output goes to a log file. taskset execs, so the PID is the server's. */
export function spawnPinned(
  core: string,
  cmd: string,
  args: string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; log: string },
): ChildProcess {
  const fd = openSync(opts.log, 'a');
  const [exe, argv] = pinned(core, cmd, args);
  const child = spawn(exe, argv, { cwd: opts.cwd, env: { ...process.env, ...opts.env }, stdio: ['ignore', fd, fd] });
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  return child;
}

export async function waitForPort(port: number, timeoutMs: number, child?: ChildProcess): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child && child.exitCode !== null)
      throw new Error(`process exited with code ${child.exitCode} before listening on ${port}`);
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ host: BENCH_HOST, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`nothing listens on ${port} after ${timeoutMs} ms`);
}

/** Sends SIGTERM, waits for the exit, then SIGKILL after the grace period. Only ever the PID we started. */
export async function stopChild(child: ChildProcess, graceMs = 20_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
  await exited;
  clearTimeout(timer);
}

export function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  if (!m) throw new Error(`no VmRSS for ${pid}`);
  return Number(m[1]) * 1024;
}

/** CPU time (user + system, all threads) the process has used so far, in milliseconds. */
export function cpuMsOf(pid: number): number {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  return (ticks * 1000) / CLOCK_TICKS;
}

/**
 * Time the process's main thread has spent runnable but waiting for a CPU, ms (/proc/PID/schedstat): on a shared
 * machine, what other work on the same core cost it.
 */
export function runDelayMsOf(pid: number | 'self'): number {
  const fields = readFileSync(`/proc/${pid}/schedstat`, 'utf8').split(' ');
  return Number(fields[1]) / 1e6;
}

/** Bytes the process has passed to write calls so far (files and sockets, all threads), from /proc/PID/io. */
export function writtenBytesOf(pid: number): number {
  const m = /^wchar: (\d+)$/m.exec(readFileSync(`/proc/${pid}/io`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

/** USER_HZ; 100 on every Linux the benchmark supports. */
const CLOCK_TICKS = 100;

/** The installed version of a Debian package ("dpkg-query -W NAME" prints "NAME<TAB>VERSION"). */
export function debianVersion(pkg: string): string {
  return execFileSync('dpkg-query', ['-W', pkg], { encoding: 'utf8' }).trim().split('\t')[1] ?? 'unknown';
}

export function commOf(pid: number): string {
  return readFileSync(`/proc/${pid}/comm`, 'utf8').trim();
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on loopback (bound and released at once). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, BENCH_HOST, () => {
      const a = s.address();
      s.close(() => (typeof a === 'object' && a ? resolve(a.port) : reject(new Error('no port'))));
    });
    s.on('error', reject);
  });
}

/** One self-signed RSA-2048 certificate for localhost, used by every server so TLS costs the same everywhere. */
export function makeCertificate(dir: string): { cert: string; key: string; both: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-keyout',
      key,
      '-out',
      cert,
      '-days',
      '7',
      '-subj',
      `/CN=${BENCH_DOMAIN}`,
      '-addext',
      `subjectAltName=DNS:${BENCH_DOMAIN}`,
    ],
    { stdio: 'ignore' },
  );
  const both = join(dir, 'both.pem');
  execFileSync('sh', ['-c', `cat "${cert}" "${key}" > "${both}"`]);
  return { cert, key, both };
}

export interface ScramKeys {
  storedKey: Buffer;
  serverKey: Buffer;
}

/**
 * Every account gets the same password and salt, so the keys are derived once. The servers' per-login work does
 * not depend on the salt's value; sharing it only spares the harness and the load generator 20,000 PBKDF2 runs.
 */
export interface BenchCredentials {
  password: string;
  /** ASCII, as Prosody stores salts as strings; the other servers get the same bytes. */
  salt: string;
  iterations: number;
  sha1: ScramKeys;
  sha256: ScramKeys;
}

export function makeCredentials(): BenchCredentials {
  const password = 'bench-password';
  const salt = randomBytes(16).toString('hex');
  const iterations = 4096;
  const keys = (hash: 'sha1' | 'sha256', size: number): ScramKeys => {
    const salted = pbkdf2Sync(password, Buffer.from(salt, 'ascii'), iterations, size, hash);
    const clientKey = createHmac(hash, salted).update('Client Key').digest();
    return {
      storedKey: createHash(hash).update(clientKey).digest(),
      serverKey: createHmac(hash, salted).update('Server Key').digest(),
    };
  };
  return { password, salt, iterations, sha1: keys('sha1', 20), sha256: keys('sha256', 32) };
}

/** General users u0…uN-1 (empty rosters) and presence users p0…pM-1, each with `contacts` mutual contacts. */
export interface BenchUsers {
  credentials: BenchCredentials;
  general: string[];
  presence: string[];
  contacts: number;
}

export function makeUsers(general: number, presence: number, contacts: number): BenchUsers {
  if (contacts % 2 !== 0 || contacts >= presence)
    throw new Error('contacts must be even and below the presence user count');
  return {
    credentials: makeCredentials(),
    general: Array.from({ length: general }, (_, i) => `u${i}`),
    presence: Array.from({ length: presence }, (_, i) => `p${i}`),
    contacts,
  };
}

/** Contacts of presence user i: its neighbours on a ring, contacts/2 on each side, so every link is mutual. */
export function contactsOf(users: BenchUsers, i: number): string[] {
  const n = users.presence.length;
  const out: string[] = [];
  for (let k = 1; k <= users.contacts / 2; k++) {
    out.push(users.presence[(i + k) % n] as string, users.presence[(i - k + n) % n] as string);
  }
  return out;
}

/** The parts of a ServerHandle every launcher reads the same way: from /proc for the child's PID. */
export function processHandle(
  name: string,
  child: ChildProcess,
  port: number,
  mode: ServerHandle['mode'],
  graceMs?: number,
): ServerHandle {
  const pid = child.pid as number;
  return {
    name,
    pid,
    port,
    mode,
    rss: () => rssOf(pid),
    cpuMs: () => cpuMsOf(pid),
    writtenBytes: () => writtenBytesOf(pid),
    stop: () => stopChild(child, graceMs),
  };
}
