// A private ejabberd 23.01 (Debian) instance for federation tests.
//
// Debian's `ejabberdctl`, run as root, re-executes everything as the `ejabberd` user through `su` (so every file
// would have to belong to that user), starts `-detached` (no PID to stop) and relies on epmd. Instead this helper
// runs the same Erlang command line directly, in the foreground, as the current user:
//   erl -sname NODE@localhost -setcookie C -erl_epmd_port P -start_epmd false … -mnesia dir SPOOL -s ejabberd
// with EJABBERD_CONFIG_PATH / EJABBERD_LOG_PATH / ERL_LIBS as ejabberdctl exports them. `-erl_epmd_port` fixes the
// distribution port, so no epmd daemon is needed; control commands (`register`, `status`) run as a hidden node
// with `-dist_listen false` and `-s ejabberd_ctl -extra NODE …`, which is what ejabberdctl does.

import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PeerOptions, peerDebug, tail, type XmppPeer } from './peer.js';
import {
  allocateLoopback,
  freePort,
  mapHosts,
  poll,
  releaseLoopback,
  type SpawnedProcess,
  spawnLogged,
  waitForTcp,
  waitForTcpClosed,
} from './system.js';

const ERL = '/usr/bin/erl';
const EJABBERDCTL = '/usr/sbin/ejabberdctl';

/** The directory holding the ejabberd-VERSION application and its Erlang dependencies, as Debian's ejabberdctl sets ERL_LIBS. */
function erlLibs(): string | undefined {
  try {
    const m = /^ERL_LIBS='?([^'\n]+)'?/m.exec(readFileSync(EJABBERDCTL, 'utf8'));
    return m?.[1];
  } catch {
    return undefined;
  }
}

/** Why ejabberd cannot be used here, or undefined when it can. */
export function ejabberdMissing(): string | undefined {
  if (!existsSync(EJABBERDCTL)) return 'ejabberd is not installed (apt-get install ejabberd): no /usr/sbin/ejabberdctl';
  if (!existsSync(ERL)) return `ejabberd is installed but ${ERL} is missing`;
  const libs = erlLibs();
  if (!libs || !existsSync(libs)) return `cannot find ejabberd's ERL_LIBS in ${EJABBERDCTL}`;
  if (!readdirSync(libs).some((d) => d.startsWith('ejabberd-'))) return `no ejabberd-* application in ${libs}`;
  return undefined;
}

export function isEjabberdInstalled(): boolean {
  return ejabberdMissing() === undefined;
}

/** ejabberd's version (e.g. "23.01"), from its application directory. */
export function ejabberdVersion(): string | undefined {
  const libs = erlLibs();
  if (!libs) return undefined;
  const dir = readdirSync(libs).find((d) => /^ejabberd-\d/.test(d));
  return dir?.slice('ejabberd-'.length);
}

let instances = 0;

export class EjabberdPeer implements XmppPeer {
  readonly kind = 'ejabberd';
  readonly s2sPort = 5269;
  readonly dir: string;
  readonly logFile: string;
  readonly configFile: string;
  readonly clientTrustPem: string;
  /** Erlang node name, unique per instance. */
  readonly node: string;
  private readonly cookie = randomBytes(12).toString('hex');
  private readonly spool: string;
  private readonly libs: string;
  private proc: SpawnedProcess | undefined;
  private releaseHosts: (() => void) | undefined;

  private constructor(
    readonly opts: PeerOptions,
    readonly address: string,
    readonly c2sPort: number,
    /** Erlang distribution port (127.0.0.1 only). */
    readonly distPort: number,
  ) {
    this.dir = mkdtempSync(join(tmpdir(), `sb-ejabberd-${opts.domain}-`));
    this.logFile = join(this.dir, 'logs', 'ejabberd.log');
    this.configFile = join(this.dir, 'ejabberd.yml');
    this.spool = join(this.dir, 'spool');
    this.clientTrustPem = opts.cert.trustPem;
    this.node = `sbpeer${process.pid}x${++instances}@localhost`;
    this.libs = erlLibs() ?? '/usr/lib/x86_64-linux-gnu';
    mkdirSync(this.spool);
    mkdirSync(join(this.dir, 'logs'));
    this.writeConfig();
  }

  get domain(): string {
    return this.opts.domain;
  }

  get pid(): number | undefined {
    return this.proc?.running() ? this.proc.pid : undefined;
  }

  /** Creates the instance directory and config, starts ejabberd, waits until started, registers the users. */
  static async start(opts: PeerOptions): Promise<EjabberdPeer> {
    const address = opts.address ?? (await allocateLoopback(5269));
    const c2sPort = await freePort([address]);
    const distPort = await freePort();
    const peer = new EjabberdPeer(opts, address, c2sPort, distPort);
    try {
      await peer.start();
      for (const u of opts.users ?? []) await peer.register(u.user, u.password);
    } catch (err) {
      await peer.cleanup();
      throw err;
    }
    return peer;
  }

  running(): boolean {
    return this.proc?.running() ?? false;
  }

  private writeConfig(): void {
    const o = this.opts;
    const q = (s: string) => JSON.stringify(s);
    const secure = o.auth === 'external';
    const starttls = (o.requireEncryption ?? true) ? 'required' : 'optional';
    const level = (o.debug ?? peerDebug()) ? 'debug' : 'info';
    const yml = `# Generated by spec/helpers/peers/ejabberd.ts for one test run.
hosts:
  - ${q(o.domain)}
loglevel: ${level}
log_rotate_count: 0
hide_sensitive_log_data: false
certfiles:
  - ${q(o.cert.pemFile)}
${o.caFile ? `ca_file: ${q(o.caFile)}\ns2s_cafile: ${q(o.caFile)}\n` : ''}s2s_use_starttls: ${starttls}
# Fail fast on unknown domains; s2s_dns_retries: 0 would fail every lookup at once with "timeout".
s2s_dns_timeout: 2
s2s_dns_retries: 1
# After a failed outbound connection ejabberd bounces everything for that domain for up to this long (default 300 s).
s2s_max_retry_delay: 2
auth_method: internal
auth_password_format: scram
default_db: mnesia
listen:
  - port: ${this.c2sPort}
    ip: ${q(this.address)}
    module: ejabberd_c2s
    starttls_required: true
  - port: ${this.s2sPort}
    ip: ${q(this.address)}
    module: ejabberd_s2s_in
acl:
  local:
    user_regexp: ""
access_rules:
  local:
    allow: local
  c2s:
    allow: all
  s2s:
    allow: all
s2s_access: s2s
modules:
  mod_disco: {}
  mod_ping: {}
  mod_version: {}
  mod_time: {}
  mod_last: {}
  mod_roster: {}
  mod_offline: {}
${secure ? '  # SASL EXTERNAL only: without mod_s2s_dialback an invalid certificate cannot authenticate.\n' : '  mod_s2s_dialback: {}\n'}`;
    writeFileSync(this.configFile, yml);
  }

  private env(): NodeJS.ProcessEnv {
    return {
      ...process.env,
      HOME: this.dir,
      EJABBERD_CONFIG_PATH: this.configFile,
      EJABBERD_LOG_PATH: this.logFile,
      ERL_LIBS: this.libs,
      ERL_CRASH_DUMP: join(this.dir, 'logs', 'erl_crash.dump'),
      ERL_CRASH_DUMP_BYTES: '0',
    };
  }

  private distArgs(): string[] {
    return ['-setcookie', this.cookie, '-erl_epmd_port', String(this.distPort), '-start_epmd', 'false'];
  }

  async start(): Promise<void> {
    if (this.running()) return;
    // ejabberd resolves other servers with getaddrinfo(3): their domains must be in /etc/hosts.
    if (!this.releaseHosts && this.opts.resolve && Object.keys(this.opts.resolve).length > 0) {
      this.releaseHosts = mapHosts(this.opts.resolve);
    }
    const args = [
      '-sname',
      this.node,
      ...this.distArgs(),
      '-kernel',
      'inet_dist_use_interface',
      '{127,0,0,1}',
      // One scheduler and no busy-waiting: the test machine has few cores and runs several servers at once.
      '+S',
      '1:1',
      '+sbwt',
      'none',
      '+sbwtdcpu',
      'none',
      '+sbwtdio',
      'none',
      '+K',
      'true',
      '-noinput',
      '-mnesia',
      'dir',
      JSON.stringify(this.spool),
      '-s',
      'ejabberd',
    ];
    const proc = spawnLogged(ERL, args, { cwd: this.spool, env: this.env(), logFile: join(this.dir, 'stdout.log') });
    this.proc = proc;
    const alive = () => {
      if (!proc.running()) {
        throw new Error(`ejabberd exited during start-up:\n${tail(join(this.dir, 'stdout.log'))}`);
      }
    };
    try {
      await poll(
        async () => {
          alive();
          return (await this.ctl(['status'])).code === 0;
        },
        30_000,
        `ejabberd node ${this.node} to report started`,
        250,
      );
      await waitForTcp(this.address, this.s2sPort, 10_000, alive);
      await waitForTcp(this.address, this.c2sPort, 5_000, alive);
    } catch (err) {
      await proc.stop(2000);
      throw err;
    }
  }

  /** Runs an ejabberdctl command against this node; resolves with its exit code and output. */
  ctl(args: readonly string[], timeoutMs = 15_000): Promise<{ code: number | null; output: string }> {
    const ctlNode = `sbctl${randomBytes(4).toString('hex')}@localhost`;
    const child = spawn(
      ERL,
      [
        '-sname',
        ctlNode,
        ...this.distArgs(),
        '-dist_listen',
        'false',
        '-hidden',
        '-noinput',
        '-s',
        'ejabberd_ctl',
        '-extra',
        this.node,
        ...args,
      ],
      { cwd: this.dir, env: this.env(), stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    child.stderr.on('data', (d: Buffer) => {
      output += d.toString('utf8');
    });
    return new Promise((resolve) => {
      const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
      child.once('error', (err) => {
        clearTimeout(timer);
        resolve({ code: null, output: err.message });
      });
      child.once('close', (code) => {
        clearTimeout(timer);
        resolve({ code, output });
      });
    });
  }

  async stop(): Promise<void> {
    const proc = this.proc;
    if (!proc) return;
    this.proc = undefined;
    // SIGTERM makes the Erlang runtime call init:stop(): ejabberd closes its streams and Mnesia cleanly.
    await proc.stop(15_000);
    await waitForTcpClosed(this.address, this.s2sPort, 5_000);
  }

  async restart(): Promise<void> {
    await this.stop();
    await this.start();
  }

  pause(): void {
    if (this.proc?.running()) process.kill(this.proc.pid, 'SIGSTOP');
  }

  resume(): void {
    if (this.proc?.running()) process.kill(this.proc.pid, 'SIGCONT');
  }

  async register(user: string, password: string): Promise<void> {
    const r = await this.ctl(['register', user, this.domain, password]);
    if (r.code !== 0) throw new Error(`ejabberdctl register ${user}@${this.domain} failed (${r.code}): ${r.output}`);
  }

  async cleanup(): Promise<void> {
    try {
      await this.stop();
    } finally {
      this.releaseHosts?.();
      this.releaseHosts = undefined;
      releaseLoopback(this.address);
      if (process.env.SB_PEER_KEEP !== '1') rmSync(this.dir, { recursive: true, force: true });
    }
  }

  log(): string {
    return tail(this.logFile);
  }
}
