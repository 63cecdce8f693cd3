// A private ngIRCd 26 (Debian) on loopback for gateway tests, and a tiny IRC line client (RFC 1459 / RFC 2812
// framing over node:net) to stand in for an IRC user.
//
// ngircd runs in the foreground (`-n`) with its own configuration file; PAM, ident and DNS lookups are off (no
// daemons to ask, no delays on connect). COMPAT(ngircd 26): started as root it switches to ServerUID/ServerGID;
// it refuses root there ("ServerUID must not be root(0)") and runs as nobody, which is fine: after start it only
// needs its listening socket (the PID file in the private directory is then not written).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { tail } from './peer.js';
import { freePort, type SpawnedProcess, spawnLogged, waitForTcp } from './system.js';

const NGIRCD = '/usr/sbin/ngircd';

/** Why ngircd cannot be used here, or undefined when it can. */
export function ngircdMissing(): string | undefined {
  const r = spawnSync(NGIRCD, ['--version'], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return `ngircd is not installed (apt-get install ngircd): ${NGIRCD} does not run`;
  return undefined;
}

export interface NgircdPeer {
  readonly port: number;
  /** The direct-TLS port (RFC 7194) when started with `tls`. */
  readonly tlsPort?: number;
  readonly dir: string;
  log(): string;
  /** Stops the server by its PID and removes its directory. */
  cleanup(): Promise<void>;
  /** Stops the server by its PID, keeping its directory and ports (for restart tests). */
  stop(): Promise<void>;
  /** Starts the stopped server again with the same configuration and ports. */
  start(): Promise<void>;
}

export interface NgircdOptions {
  /** [Global] Password: the connection password every client must send with PASS (RFC 2812 §3.1.1). */
  password?: string;
  /** Certificate and key for a direct-TLS listener ([SSL] Ports). */
  tls?: { certFile: string; keyFile: string };
  /** [Limits] MaxNickLength (ngircd's default is RFC 2812's 9). */
  maxNickLength?: number;
  /**
   * Generous flood limits for burst tests: MaxPenaltyTime = 0 turns ngircd's penalty delays off (ngircd.conf(5)).
   * ngircd still processes a few commands per client per loop and still closes a client whose receive buffer
   * fills up, so clients keep pacing their lines.
   */
  noPenalty?: boolean;
}

export async function startNgircd(name = 'irc.test', opts: NgircdOptions = {}): Promise<NgircdPeer> {
  const dir = mkdtempSync(join(tmpdir(), 'sb-ngircd-'));
  const port = await freePort();
  const tlsPort = opts.tls ? await freePort() : undefined;
  const conf = join(dir, 'ngircd.conf');
  const logFile = join(dir, 'ngircd.log');
  writeFileSync(
    conf,
    [
      '[Global]',
      `Name = ${name}`,
      'Info = Switchboard interop tests',
      'AdminInfo1 = tests',
      'AdminInfo2 = tests',
      'AdminEMail = tests@localhost',
      'Listen = 127.0.0.1',
      `Ports = ${port}`,
      'ServerUID = root',
      'ServerGID = root',
      `PidFile = ${join(dir, 'ngircd.pid')}`,
      'MotdPhrase = Switchboard interop',
      '[Limits]',
      // biboumi and the test's own IRC client all come from 127.0.0.1.
      'MaxConnectionsIP = 0',
      ...(opts.maxNickLength ? [`MaxNickLength = ${opts.maxNickLength}`] : []),
      ...(opts.noPenalty ? ['MaxPenaltyTime = 0'] : []),
      '[Options]',
      'PAM = no',
      'Ident = no',
      'DNS = no',
      ...(opts.password ? ['[Global]', `Password = ${opts.password}`] : []),
      ...(opts.tls
        ? ['[SSL]', `CertFile = ${opts.tls.certFile}`, `KeyFile = ${opts.tls.keyFile}`, `Ports = ${tlsPort}`]
        : []),
      '',
    ].join('\n'),
  );
  let proc: SpawnedProcess | undefined;
  const start = async () => {
    const p = spawnLogged(NGIRCD, ['-n', '-f', conf], { cwd: dir, logFile });
    proc = p;
    try {
      await waitForTcp('127.0.0.1', port, 10_000, () => {
        if (!p.running()) throw new Error(`ngircd exited:\n${tail(logFile)}`);
      });
    } catch (err) {
      await p.stop(2000);
      throw err;
    }
  };
  try {
    await start();
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  return {
    port,
    ...(tlsPort !== undefined ? { tlsPort } : {}),
    dir,
    log: () => tail(logFile),
    cleanup: async () => {
      await proc?.stop(3000);
      rmSync(dir, { recursive: true, force: true });
    },
    stop: async () => {
      await proc?.stop(3000);
    },
    start,
  };
}

/** One parsed IRC line (RFC 2812 §2.3.1): [':' prefix] command params… [':' trailing]. */
export interface IrcLine {
  raw: string;
  prefix: string | undefined;
  /** The nick of the prefix (before '!'), when the prefix names a user. */
  nick: string | undefined;
  command: string;
  params: string[];
}

export function parseIrcLine(raw: string): IrcLine {
  let rest = raw;
  let prefix: string | undefined;
  if (rest.startsWith(':')) {
    const sp = rest.indexOf(' ');
    prefix = rest.slice(1, sp < 0 ? undefined : sp);
    rest = sp < 0 ? '' : rest.slice(sp + 1);
  }
  const colon = rest.indexOf(' :');
  const trailing = colon >= 0 ? rest.slice(colon + 2) : undefined;
  const words = (colon >= 0 ? rest.slice(0, colon) : rest).split(' ').filter(Boolean);
  const command = (words.shift() ?? '').toUpperCase();
  if (trailing !== undefined) words.push(trailing);
  const nick = prefix?.includes('!') ? prefix.slice(0, prefix.indexOf('!')) : undefined;
  return { raw, prefix, nick, command, params: words };
}

/** A registered IRC connection that answers PING and keeps every line it received. */
export class IrcClient {
  readonly lines: IrcLine[] = [];
  private buffer = '';
  private readonly waiters = new Set<() => void>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    readonly nick: string,
  ) {
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.onData(chunk));
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => this.wake());
  }

  /** Connects and registers (RFC 2812 §3.1): NICK, USER, then waits for RPL_WELCOME (001). */
  static async connect(port: number, nick: string, opts: { password?: string } = {}): Promise<IrcClient> {
    const socket = connect({ host: '127.0.0.1', port });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', () => resolve());
      socket.once('error', reject);
    });
    const c = new IrcClient(socket, nick);
    if (opts.password) c.send(`PASS ${opts.password}`); // RFC 2812 §3.1.1: before NICK/USER
    c.send(`NICK ${nick}`);
    c.send(`USER ${nick} 0 * :${nick} (Switchboard test)`);
    await c.waitLine((l) => l.command === '001', 'RPL_WELCOME');
    return c;
  }

  private onData(chunk: string): void {
    this.buffer += chunk;
    let nl = this.buffer.indexOf('\n');
    while (nl >= 0) {
      const raw = this.buffer.slice(0, nl).replace(/\r$/, '');
      this.buffer = this.buffer.slice(nl + 1);
      if (raw) {
        const line = parseIrcLine(raw);
        // RFC 2812 §3.7.2: a server's PING must be answered, or it drops the connection.
        if (line.command === 'PING') this.send(`PONG :${line.params[0] ?? ''}`);
        this.lines.push(line);
      }
      nl = this.buffer.indexOf('\n');
    }
    this.wake();
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  send(line: string): void {
    if (!this.closed) this.socket.write(`${line}\r\n`);
  }

  /** Writes bytes as they are (invalid UTF-8, control characters, over-long lines: bad-input tests). */
  sendRaw(data: Buffer | string): void {
    if (!this.closed) this.socket.write(data);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** The first received line (from index `from`) matching `pred`, waiting up to `timeoutMs` for it. */
  waitLine(pred: (l: IrcLine) => boolean, what: string, timeoutMs = 10_000, from = 0): Promise<IrcLine> {
    const find = () => this.lines.slice(from).find(pred);
    const found = find();
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const done = () => {
        clearTimeout(timer);
        this.waiters.delete(waiter);
      };
      const waiter = () => {
        const l = find();
        if (l) {
          done();
          resolve(l);
        } else if (this.closed) {
          done();
          reject(new Error(`${this.nick}: connection closed while waiting for ${what}`));
        }
      };
      const timer = setTimeout(() => {
        done();
        const last = this.lines.slice(-15).map((l) => l.raw);
        reject(new Error(`${this.nick}: no ${what} within ${timeoutMs} ms; last lines:\n${last.join('\n')}`));
      }, timeoutMs);
      this.waiters.add(waiter);
    });
  }

  /** JOIN, then waits for the end of the names list (RPL_ENDOFNAMES, 366) of that channel. */
  async join(channel: string): Promise<void> {
    const from = this.lines.length;
    this.send(`JOIN ${channel}`);
    await this.waitLine((l) => l.command === '366' && l.params[1] === channel, `the names of ${channel}`, 10_000, from);
  }

  privmsg(target: string, text: string): void {
    this.send(`PRIVMSG ${target} :${text}`);
  }

  async quit(message = 'bye'): Promise<void> {
    if (this.closed) return;
    this.send(`QUIT :${message}`);
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        this.socket.destroy();
        resolve();
      }, 2000);
      this.socket.once('close', () => {
        clearTimeout(t);
        resolve();
      });
    });
  }
}
