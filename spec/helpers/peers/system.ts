// Machine-level plumbing for real-peer tests: loopback addresses and ports, name resolution through /etc/hosts,
// and child processes that are always stopped by their PID, even when a test run is aborted.
import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, createServer } from 'node:net';

// ---------------------------------------------------------------------------------------------- loopback network

/** Resolves once `host:port` can be bound (true) or not (false). */
export function canListen(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** A TCP port that is free on 127.0.0.1 and on each of `alsoOn` (so one number names one server in tests). */
export async function freePort(alsoOn: readonly string[] = []): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer();
      srv.once('error', reject);
      srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
        const addr = srv.address();
        const p = typeof addr === 'object' && addr ? addr.port : 0;
        srv.close(() => resolve(p));
      });
    });
    let ok = port > 0;
    for (const host of alsoOn) if (ok) ok = await canListen(host, port);
    if (ok) return port;
  }
  throw new Error('no free TCP port found');
}

const reserved = new Set<string>();

/**
 * A 127.0.0.x address (x in 20..250) on which `port` is free, so each peer can listen on the standard s2s port
 * 5269 of its own address. Addresses handed out stay reserved in this process until `releaseLoopback`.
 */
export async function allocateLoopback(port = 5269): Promise<string> {
  const start = 20 + Math.floor(Math.random() * 231);
  for (let i = 0; i < 231; i++) {
    const addr = `127.0.0.${20 + ((start - 20 + i) % 231)}`;
    if (reserved.has(addr)) continue;
    if (await canListen(addr, port)) {
      reserved.add(addr);
      return addr;
    }
  }
  throw new Error(`no 127.0.0.x address with port ${port} free`);
}

export function releaseLoopback(addr: string): void {
  reserved.delete(addr);
}

/** Resolves when a TCP connection to `host:port` succeeds; rejects after `timeoutMs`. */
export async function waitForTcp(host: string, port: number, timeoutMs: number, alive?: () => void): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    alive?.();
    const ok = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port });
      s.once('connect', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) return;
    if (Date.now() > deadline) throw new Error(`nothing listens on ${host}:${port} after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/** Resolves when nothing listens on `host:port` any more. */
export async function waitForTcpClosed(host: string, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await canListen(host, port))) {
    if (Date.now() > deadline) throw new Error(`${host}:${port} still bound after ${timeoutMs} ms`);
    await sleep(100);
  }
}

/**
 * A label unique to this test process, for test domains: two test runs on one machine (each with its own peers
 * and its own /etc/hosts block) must not map the same domain to different addresses.
 */
export const RUN_TAG = `r${process.pid.toString(36)}`;

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value; rejects with `what` after `timeoutMs`. */
export async function poll<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

// --------------------------------------------------------------------------------------------------- /etc/hosts

/**
 * Prosody (through libunbound) can read a private hosts file, but ejabberd resolves a peer domain with
 * getaddrinfo(3), i.e. the system resolver: federation tests map their test domains in /etc/hosts. The mapping
 * lives in one marked block per process, rewritten as peers come and go, and removed byte for byte when the last
 * one is released (also on process exit). Blocks left by a process that died are removed too.
 */
export const HOSTS_FILE = process.env.SB_HOSTS_FILE ?? '/etc/hosts';
const MARK = 'switchboard-test-peers';
const hostEntries = new Map<string, { address: string; refs: number }>();
let ourBlock = '';

/** A whole block (its lines only: the line break before it belongs to the line before). */
function blockRe(pid: string): RegExp {
  return new RegExp(`(^|\\n)# BEGIN ${MARK} pid=${pid}\\n[\\s\\S]*?# END ${MARK} pid=${pid}(\\n|$)`, 'g');
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function rewriteHosts(): void {
  let text = existsSync(HOSTS_FILE) ? readFileSync(HOSTS_FILE, 'utf8') : '';
  const before = text;
  // Our previous block: remove exactly what we appended.
  if (ourBlock) {
    const at = text.lastIndexOf(ourBlock);
    if (at >= 0) text = text.slice(0, at) + text.slice(at + ourBlock.length);
    ourBlock = '';
  }
  // Stale blocks of processes that are gone.
  for (const m of text.matchAll(new RegExp(`# BEGIN ${MARK} pid=(\\d+)\\n`, 'g'))) {
    const pid = Number(m[1]);
    if (pid !== process.pid && !pidAlive(pid)) text = text.replace(blockRe(String(pid)), '$1');
  }
  if (hostEntries.size > 0) {
    const lines = [...hostEntries].map(([domain, { address }]) => `${address}\t${domain}`);
    ourBlock = `${text.endsWith('\n') || text === '' ? '' : '\n'}# BEGIN ${MARK} pid=${process.pid}\n${lines.join('\n')}\n# END ${MARK} pid=${process.pid}\n`;
    text += ourBlock;
  }
  if (text !== before) writeFileSync(HOSTS_FILE, text);
}

/** Maps each domain to its address in /etc/hosts until the returned function is called. */
export function mapHosts(entries: Record<string, string>): () => void {
  installExitHook();
  for (const [domain, address] of Object.entries(entries)) {
    const cur = hostEntries.get(domain);
    if (cur && cur.address !== address) throw new Error(`${domain} is already mapped to ${cur.address}`);
    hostEntries.set(domain, { address, refs: (cur?.refs ?? 0) + 1 });
  }
  rewriteHosts();
  let released = false;
  return () => {
    if (released) return;
    released = true;
    for (const domain of Object.keys(entries)) {
      const cur = hostEntries.get(domain);
      if (!cur) continue;
      if (--cur.refs <= 0) hostEntries.delete(domain);
    }
    rewriteHosts();
  };
}

/** Whether /etc/hosts can be edited (tests that need it run as root). */
export function hostsWritable(): boolean {
  try {
    closeSync(openSync(HOSTS_FILE, 'r+'));
    return true;
  } catch {
    return false;
  }
}

// ------------------------------------------------------------------------------------------------------ processes

const children = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // 'exit' handlers must be synchronous: kill what is still running by PID, drop our /etc/hosts block.
  process.on('exit', () => {
    for (const child of children) {
      if (child.pid !== undefined && child.exitCode === null && child.signalCode === null) {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    }
    if (hostEntries.size > 0 || ourBlock) {
      hostEntries.clear();
      try {
        rewriteHosts();
      } catch {
        // nothing more can be done while exiting
      }
    }
  });
}

export interface SpawnedProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  /** Resolves with the exit code (or signal name) once the process has ended. */
  readonly exited: Promise<number | string>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
  stop(graceMs?: number): Promise<void>;
}

/** Starts `cmd` with stdout and stderr appended to `logFile`; the process is killed by PID if we exit first. */
export function spawnLogged(
  cmd: string,
  args: readonly string[],
  opts: { cwd: string; env?: NodeJS.ProcessEnv; logFile: string },
): SpawnedProcess {
  installExitHook();
  const fd = openSync(opts.logFile, 'a');
  const child = spawn(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`could not start ${cmd}`);
  const pid = child.pid;
  children.add(child);
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => {
      children.delete(child);
      resolve(code ?? signal ?? 'unknown');
    });
    child.once('error', (err) => {
      children.delete(child);
      resolve(err.message);
    });
  });
  const running = () => child.exitCode === null && child.signalCode === null && children.has(child);
  return {
    child,
    pid,
    exited,
    running,
    async stop(graceMs = 10_000) {
      if (!running()) return;
      // A paused (SIGSTOP) process would not act on SIGTERM until continued.
      process.kill(pid, 'SIGCONT');
      process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => {
        if (running()) process.kill(pid, 'SIGKILL');
      }, graceMs);
      await exited;
      clearTimeout(timer);
    },
  };
}
