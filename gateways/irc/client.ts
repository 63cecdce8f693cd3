// One IRC client connection (RFC 2812 client protocol) over TCP or direct TLS (RFC 7194, port 6697 by convention):
// registration (registration.ts), keepalive, a bounded read buffer, paced writes (flood.ts), and typed events for
// the commands the gateway translates. It knows nothing about XMPP.
import { EventEmitter } from 'node:events';
import net from 'node:net';
import tls from 'node:tls';
import {
  type CaseMapping,
  ctcpAction,
  decodeLine,
  type IrcMessage,
  type IrcPrefix,
  ircLower,
  LineFramer,
  parseMessage,
  parsePrefix,
  serializeMessage,
  splitText,
  textBudget,
} from './codec.js';
import { DEFAULT_FLOOD, type FloodOptions, LineQueue } from './flood.js';
import { IrcLoginError, Registration } from './registration.js';

export { IrcLoginError };

export interface IrcClientOptions {
  readonly host: string;
  readonly port: number;
  /** Direct TLS: true, or node:tls options (ca, rejectUnauthorized …). The host is the SNI name unless an IP. */
  readonly tls?: boolean | tls.ConnectionOptions;
  readonly nick: string;
  readonly username?: string;
  readonly realname?: string;
  /** Account password (SASL PLAIN when offered, else PASS). */
  readonly password?: string;
  readonly account?: string;
  readonly maxNickRetries?: number;
  readonly flood?: Partial<FloodOptions>;
  /** TCP + TLS + registration must finish within this time. */
  readonly connectTimeoutMs?: number;
  /** How long to wait for an answer to CAP LS before registering without capabilities. */
  readonly capTimeoutMs?: number;
  /** Silence after which we PING the server, and then wait as long again for any data. */
  readonly keepaliveMs?: number;
}

export interface TextEvent {
  readonly from: IrcPrefix;
  readonly target: string;
  readonly text: string;
}

export interface IrcClientEvents {
  registered: [nick: string];
  message: [m: IrcMessage];
  privmsg: [e: TextEvent];
  notice: [e: TextEvent];
  join: [e: { who: IrcPrefix; channel: string }];
  part: [e: { who: IrcPrefix; channel: string; reason: string }];
  kick: [e: { by: IrcPrefix; channel: string; nick: string; reason: string }];
  quit: [e: { who: IrcPrefix; reason: string }];
  nick: [e: { who: IrcPrefix; nick: string }];
  /** RPL_TOPIC (332, `by` absent) or a TOPIC change. */
  topic: [e: { channel: string; topic: string; by?: IrcPrefix }];
  /** RPL_NAMREPLY lines collected until RPL_ENDOFNAMES (RFC 2812 §3.2.5). */
  names: [e: { channel: string; names: { nick: string; modes: string }[] }];
  /** RPL_AWAY (301): the nick we messaged is away. */
  away: [e: { nick: string; message: string }];
  /** Any ERR_* numeric (400–599) after registration, e.g. 401 no such nick, 474 banned from channel. */
  ircError: [e: { code: string; params: readonly string[]; text: string }];
  /** Lines dropped by the read limits. */
  dropped: [count: number];
  /** A listener threw while handling `m`; the connection goes on. */
  handlerError: [err: Error, m: IrcMessage];
  /** The connection ended (after registration); no further events follow. */
  close: [reason: string];
}

const NAME_PREFIXES = '~&@%+!';
/** Limits on RPL_NAMREPLY collection: channels with an open list, and names kept per channel. */
const MAX_PENDING_NAMES = 64;
const MAX_NAMES = 20_000;

export class IrcClient extends EventEmitter<IrcClientEvents> {
  nick: string;
  /** Our user@host as the server relays it (from RPL_WELCOME or our own JOIN), for line budgets. */
  private self: { user?: string; host?: string } = {};
  readonly isupport = new Map<string, string>();
  private socket: net.Socket | undefined;
  private readonly framer = new LineFramer();
  private readonly queue: LineQueue;
  private registration: Registration | undefined;
  private readonly pendingNames = new Map<string, { nick: string; modes: string }[]>();
  private lastRx = Date.now();
  private pingSentAt = 0;
  private keepalive: NodeJS.Timeout | undefined;
  private closed = false;
  private closeReason = 'connection closed';

  constructor(private readonly opts: IrcClientOptions) {
    super();
    this.nick = opts.nick;
    this.queue = new LineQueue({ ...DEFAULT_FLOOD, ...opts.flood }, (line) => this.socket?.write(`${line}\r\n`));
  }

  get caseMapping(): CaseMapping {
    const m = this.isupport.get('CASEMAPPING');
    return m === 'ascii' || m === 'strict-rfc1459' ? m : 'rfc1459';
  }

  /** Compares names the way the server does (RFC 2812 §2.2, ISUPPORT CASEMAPPING). */
  same(a: string, b: string): boolean {
    return ircLower(a, this.caseMapping) === ircLower(b, this.caseMapping);
  }

  get connected(): boolean {
    return !this.closed && this.socket !== undefined && this.registration === undefined;
  }

  /** Connects and registers; resolves with our nick once RPL_WELCOME arrives. */
  connect(signal?: AbortSignal): Promise<string> {
    return new Promise<string>((resolve, reject) => {
      if (signal?.aborted) return reject(signal.reason ?? new Error('aborted'));
      const o = this.opts;
      const registration = new Registration(
        {
          nick: o.nick,
          username: o.username ?? 'switchboard',
          realname: o.realname ?? o.nick,
          maxNickRetries: o.maxNickRetries ?? 5,
          ...(o.password !== undefined ? { password: o.password } : {}),
          ...(o.account !== undefined ? { account: o.account } : {}),
        },
        (command, ...params) => this.queue.urgent(serializeMessage({ command, params })),
      );
      this.registration = registration;
      let capTimer: NodeJS.Timeout | undefined;
      const finish = (err?: Error, nick?: string) => {
        clearTimeout(timer);
        clearTimeout(capTimer);
        signal?.removeEventListener('abort', onAbort);
        this.off('message', onMessage);
        if (err) {
          this.destroy(err.message);
          reject(err);
        } else resolve(nick!);
      };
      const onAbort = () => finish(signal?.reason instanceof Error ? signal.reason : new Error('aborted'));
      const timer = setTimeout(
        () => finish(new IrcLoginError('timed out connecting to the IRC server', false, 'network')),
        o.connectTimeoutMs ?? 20_000,
      );
      signal?.addEventListener('abort', onAbort, { once: true });
      const onMessage = (m: IrcMessage) => {
        const r = registration.handle(m);
        if (!r) return;
        if (!r.done) return finish(r.error);
        this.registration = undefined;
        this.nick = r.nick;
        const mask = /(\S+)!(\S+)@(\S+)$/.exec(r.welcome);
        if (mask) this.self = { user: mask[2]!, host: mask[3]! };
        this.startKeepalive();
        finish(undefined, r.nick);
        this.emit('registered', r.nick);
      };
      this.on('message', onMessage);
      this.openSocket(
        () => {
          registration.start();
          capTimer = setTimeout(() => registration.capTimeout(), o.capTimeoutMs ?? 3000);
        },
        (reason) => finish(new IrcLoginError(reason, false, 'network')),
      );
    });
  }

  private openSocket(onReady: () => void, onEarlyClose: (reason: string) => void): void {
    const { host, port } = this.opts;
    const t = this.opts.tls;
    const socket = t
      ? tls.connect({ host, port, ...(net.isIP(host) ? {} : { servername: host }), ...(t === true ? {} : t) })
      : net.connect({ host, port });
    this.socket = socket;
    socket.setNoDelay(true);
    socket.once(t ? 'secureConnect' : 'connect', onReady);
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => {
      this.closeReason = err.message;
    });
    socket.on('close', () => {
      const wasRegistering = this.registration !== undefined;
      this.cleanup();
      if (wasRegistering) onEarlyClose(this.closeReason);
      else this.emit('close', this.closeReason);
    });
  }

  private onData(chunk: Buffer): void {
    this.lastRx = Date.now();
    this.pingSentAt = 0;
    const { lines, dropped } = this.framer.push(chunk);
    if (dropped > 0) this.emit('dropped', dropped);
    for (const raw of lines) {
      if (this.closed) return;
      const m = parseMessage(decodeLine(raw));
      if (!m) continue;
      try {
        this.dispatch(m);
      } catch (err) {
        // A failing listener must not take the socket's data handler (and the process) down with it.
        this.emit('handlerError', err instanceof Error ? err : new Error(String(err)), m);
      }
    }
  }

  private dispatch(m: IrcMessage): void {
    if (m.command === 'PING') {
      // RFC 2812 §3.7.2: answer with the same parameter.
      this.queue.urgent(serializeMessage({ command: 'PONG', params: [m.params[0] ?? ''] }));
      return;
    }
    if (m.command === 'ERROR') this.closeReason = m.params[0] ?? 'ERROR from server';
    this.emit('message', m);
    if (this.registration) return;
    this.handleRegistered(m);
  }

  private handleRegistered(m: IrcMessage): void {
    const p = m.params;
    const who = parsePrefix(m.prefix ?? '');
    const isSelf = this.same(who.nick, this.nick);
    switch (m.command) {
      case 'PRIVMSG':
      case 'NOTICE':
        if (p.length >= 2) {
          this.emit(m.command === 'PRIVMSG' ? 'privmsg' : 'notice', { from: who, target: p[0]!, text: p[1]! });
        }
        return;
      case 'JOIN':
        if (isSelf && who.host) this.self = { ...(who.user ? { user: who.user } : {}), host: who.host };
        if (p[0]) this.emit('join', { who, channel: p[0] });
        return;
      case 'PART':
        if (p[0]) this.emit('part', { who, channel: p[0], reason: p[1] ?? '' });
        return;
      case 'KICK':
        if (p[0] && p[1]) this.emit('kick', { by: who, channel: p[0], nick: p[1], reason: p[2] ?? '' });
        return;
      case 'QUIT':
        this.emit('quit', { who, reason: p[0] ?? '' });
        return;
      case 'NICK':
        if (!p[0]) return;
        if (isSelf) this.nick = p[0];
        this.emit('nick', { who, nick: p[0] });
        return;
      case 'TOPIC':
        if (p[0]) this.emit('topic', { channel: p[0], topic: p[1] ?? '', by: who });
        return;
      default:
        this.handleNumeric(m);
    }
  }

  private handleNumeric(m: IrcMessage): void {
    const p = m.params;
    switch (m.command) {
      case '005': // RPL_ISUPPORT: KEY[=VALUE] tokens between our nick and the trailing text
        for (const tok of p.slice(1, -1)) {
          const eq = tok.indexOf('=');
          this.isupport.set((eq < 0 ? tok : tok.slice(0, eq)).toUpperCase(), eq < 0 ? '' : tok.slice(eq + 1));
        }
        return;
      case '332': // RPL_TOPIC: <me> <channel> :<topic>
        if (p[1]) this.emit('topic', { channel: p[1], topic: p[2] ?? '' });
        return;
      case '301': // RPL_AWAY: <me> <nick> :<message>
        if (p[1]) this.emit('away', { nick: p[1], message: p[2] ?? '' });
        return;
      case '353': {
        // RPL_NAMREPLY: RFC 2812 `<me> <symbol> <channel> :names`, RFC 1459 without the symbol.
        const channel = p.at(-2);
        if (!channel) return;
        const key = ircLower(channel, this.caseMapping);
        const list = this.pendingNames.get(key) ?? [];
        // Bounded: a server that never ends its lists (366) must not grow our memory without limit.
        if (!this.pendingNames.has(key) && this.pendingNames.size >= MAX_PENDING_NAMES) return;
        for (const tok of (p.at(-1) ?? '').split(' ')) {
          let i = 0;
          while (i < tok.length && NAME_PREFIXES.includes(tok[i]!)) i++;
          if (i < tok.length && list.length < MAX_NAMES) list.push({ nick: tok.slice(i), modes: tok.slice(0, i) });
        }
        this.pendingNames.set(key, list);
        return;
      }
      case '366': {
        // RPL_ENDOFNAMES: <me> <channel> :End of NAMES list
        const channel = p[1];
        if (!channel) return;
        const key = ircLower(channel, this.caseMapping);
        const names = this.pendingNames.get(key) ?? [];
        this.pendingNames.delete(key);
        this.emit('names', { channel, names });
        return;
      }
      default:
        if (/^[45]\d\d$/.test(m.command)) this.emit('ircError', { code: m.command, params: p, text: p.at(-1) ?? '' });
    }
  }

  /** Queues a raw command (paced). Throws IrcCodecError for a line the codec refuses; false when the queue is full. */
  send(command: string, ...params: string[]): Promise<void> {
    const line = serializeMessage({ command, params });
    return new Promise<void>((resolve, reject) => {
      const done = (err?: Error) => (err ? reject(err) : resolve());
      if (!this.queue.enqueue(line, done)) reject(new Error('IRC send queue is full or closed'));
    });
  }

  /** PRIVMSG/NOTICE split to fit what the recipients receive (RFC 2812 §2.3); resolves once all lines are written. */
  async say(target: string, text: string, opts: { action?: boolean; notice?: boolean } = {}): Promise<void> {
    const command = opts.notice ? 'NOTICE' : 'PRIVMSG';
    const budget = textBudget({ command, target, nick: this.nick, ...this.self, action: opts.action ?? false });
    const chunks = splitText(text, budget);
    await Promise.all(chunks.map((c) => this.send(command, target, opts.action ? ctcpAction(c) : c)));
  }

  /** RFC 2812 §3.1.7: sends QUIT after what is queued, waits for the server to close (bounded), then closes. */
  async quit(reason = 'Leaving', timeoutMs = 3000): Promise<void> {
    if (this.closed || !this.socket) return this.destroy(reason);
    const socket = this.socket;
    const gone = new Promise<void>((resolve) => socket.once('close', () => resolve()));
    const line = serializeMessage({ command: 'QUIT', params: [reason] });
    if (!this.queue.enqueue(line)) this.queue.urgent(line);
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([gone, new Promise<void>((resolve) => (timer = setTimeout(resolve, timeoutMs)))]);
    clearTimeout(timer);
    this.destroy(reason);
  }

  /** Closes the socket now; a 'close' event follows if we were registered. */
  destroy(reason = 'closed'): void {
    if (this.closed) return;
    this.closeReason = reason;
    this.socket?.destroy();
    this.cleanup();
  }

  private cleanup(): void {
    this.closed = true;
    this.queue.close();
    if (this.keepalive) clearInterval(this.keepalive);
    this.keepalive = undefined;
  }

  private startKeepalive(): void {
    const ms = this.opts.keepaliveMs ?? 90_000;
    this.keepalive = setInterval(
      () => {
        const now = Date.now();
        if (this.pingSentAt && now - this.pingSentAt > ms) {
          this.destroy(`ping timeout: no data for ${Math.round((now - this.lastRx) / 1000)} s`);
        } else if (!this.pingSentAt && now - this.lastRx > ms) {
          this.pingSentAt = now;
          this.queue.urgent(serializeMessage({ command: 'PING', params: [`switchboard-${now}`] }));
        }
      },
      Math.max(250, Math.floor(ms / 4)),
    );
    this.keepalive.unref();
  }
}
