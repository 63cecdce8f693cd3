// Connection registration as a small state machine without I/O: IRCv3 capability negotiation (CAP LS 302),
// IRCv3 sasl-3.1 PLAIN, RFC 2812 §3.1 PASS/NICK/USER, and nick collisions. The client feeds it every message
// until RPL_WELCOME (001) and sends what it asks for.
import type { IrcMessage } from './codec.js';

export interface RegistrationOptions {
  readonly nick: string;
  readonly username: string;
  readonly realname: string;
  /** Account password: SASL PLAIN when the server offers it, else sent as PASS (RFC 2812 §3.1.1). */
  readonly password?: string;
  /** SASL authentication identity; defaults to the nick. */
  readonly account?: string;
  /** Nick collisions (433/437) tolerated before giving up; each retry appends '_'. */
  readonly maxNickRetries: number;
}

/** Why registration failed; `permanent` means retrying with the same settings cannot help. */
export class IrcLoginError extends Error {
  override readonly name = 'IrcLoginError';
  constructor(
    message: string,
    readonly permanent: boolean,
    readonly reason: 'auth' | 'nick' | 'banned' | 'network' | 'protocol' = 'protocol',
  ) {
    super(message);
  }
}

export type RegistrationResult = { done: true; nick: string; welcome: string } | { done: false; error: IrcLoginError };

type Send = (command: string, ...params: string[]) => void;

/** IRCv3 sasl-3.1: AUTHENTICATE payloads travel in chunks of at most 400 bytes of base64. */
const SASL_CHUNK = 400;

export class Registration {
  nick: string;
  private readonly caps = new Map<string, string>();
  private capPhase: 'ls' | 'sasl' | 'none' = 'ls';
  private userSent = false;
  private retries = 0;
  /** Set once a nick was refused as erroneous after a retry: candidates are shortened to fit. */
  private maxNickLength = Number.POSITIVE_INFINITY;

  constructor(
    private readonly opts: RegistrationOptions,
    private readonly send: Send,
  ) {
    this.nick = opts.nick;
  }

  /** IRCv3 capability negotiation: CAP LS 302 first; registration waits for CAP END (or for its absence). */
  start(): void {
    this.send('CAP', 'LS', '302');
  }

  /** The server said nothing about CAP within the wait: it predates IRCv3; register the RFC 2812 way. */
  capTimeout(): void {
    if (this.capPhase === 'ls') this.finishCaps(false);
  }

  /** Handles one message; returns a result when registration ended, undefined while it goes on. */
  handle(m: IrcMessage): RegistrationResult | undefined {
    const p = m.params;
    switch (m.command) {
      case 'CAP':
        return this.onCap(p);
      case 'AUTHENTICATE':
        if (p[0] === '+' && this.capPhase === 'sasl') this.sendSaslPlain();
        return undefined;
      case '903': // RPL_SASLSUCCESS
      case '907': // ERR_SASLALREADY
        this.capPhase = 'none';
        this.send('CAP', 'END');
        return undefined;
      case '902': // ERR_NICKLOCKED
      case '904': // ERR_SASLFAIL
      case '905': // ERR_SASLTOOLONG
      case '906': // ERR_SASLABORTED
        return this.fail(`SASL authentication failed (${m.command}: ${p.at(-1) ?? ''})`, true, 'auth');
      case '421': // ERR_UNKNOWNCOMMAND for CAP: a pre-IRCv3 server
      case '451': // ERR_NOTREGISTERED in answer to CAP on some servers
        if (p[1]?.toUpperCase() === 'CAP' || m.command === '451') this.capTimeout();
        return undefined;
      case '433': // ERR_NICKNAMEINUSE
      case '436': // ERR_NICKCOLLISION
      case '437': // ERR_UNAVAILRESOURCE
        return this.retryNick(`nickname ${this.nick} is in use`);
      case '432': // ERR_ERRONEUSNICKNAME
        // Erroneous at first try: the registered nick itself is bad. After a retry, the '_' made it too long.
        if (this.retries === 0 || this.nick.length - 1 <= this.retries) {
          return this.fail(`erroneous nickname ${this.nick}`, true, 'nick');
        }
        this.maxNickLength = this.nick.length - 1;
        this.retries--;
        return this.retryNick(`nickname ${this.nick} is too long`);
      case '464': // ERR_PASSWDMISMATCH
        return this.fail('the IRC server refused the password', true, 'auth');
      case '465': // ERR_YOUREBANNEDCREEP
        return this.fail(`banned from the IRC server: ${p.at(-1) ?? ''}`, true, 'banned');
      case 'ERROR': // RFC 2812 §3.7.4: the server closes the link
        return this.fail(`IRC server closed the link: ${p[0] ?? ''}`, /bad password|access denied/i.test(p[0] ?? ''));
      case '001': // RPL_WELCOME: RFC 2812 §5.1
        this.nick = p[0] ?? this.nick;
        return { done: true, nick: this.nick, welcome: p.at(-1) ?? '' };
      default:
        return undefined;
    }
  }

  private onCap(p: readonly string[]): RegistrationResult | undefined {
    const sub = p[1]?.toUpperCase();
    if (sub === 'LS' && this.capPhase === 'ls') {
      // CAP LS 302: `CAP * LS * :caps` announces more lines; the last one has no '*'.
      const more = p.length >= 4 && p[2] === '*';
      for (const tok of (p.at(-1) ?? '').split(' ')) {
        if (tok === '') continue;
        const eq = tok.indexOf('=');
        this.caps.set(eq < 0 ? tok : tok.slice(0, eq), eq < 0 ? '' : tok.slice(eq + 1));
      }
      if (!more) this.finishCaps(true);
    } else if (sub === 'ACK' && this.capPhase === 'sasl') {
      this.send('AUTHENTICATE', 'PLAIN');
    } else if (sub === 'NAK' && this.capPhase === 'sasl') {
      return this.fail('the IRC server refused the sasl capability', true, 'auth');
    }
    return undefined;
  }

  /** IRCv3 sasl-3.1: `sasl` may carry a mechanism list; PLAIN must be in it when present. */
  private saslPlainOffered(): boolean {
    const mechs = this.caps.get('sasl');
    return mechs !== undefined && (mechs === '' || mechs.toUpperCase().split(',').includes('PLAIN'));
  }

  private finishCaps(serverKnowsCap: boolean): void {
    const { password } = this.opts;
    if (password !== undefined && password !== '' && this.saslPlainOffered()) {
      this.capPhase = 'sasl';
      this.send('CAP', 'REQ', 'sasl');
    } else {
      this.capPhase = 'none';
      // RFC 2812 §3.1.1: PASS must precede NICK/USER; without SASL the password is the connection password.
      if (password !== undefined && password !== '') this.send('PASS', password);
      if (serverKnowsCap) this.send('CAP', 'END');
    }
    this.sendNickUser();
  }

  private sendNickUser(): void {
    if (this.userSent) return;
    this.userSent = true;
    this.send('NICK', this.nick);
    // RFC 2812 §3.1.3: USER <user> <mode> <unused> <realname>; mode 0 asks for no special modes.
    this.send('USER', this.opts.username, '0', '*', this.opts.realname);
  }

  private sendSaslPlain(): void {
    // RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd; the authzid stays empty.
    const authcid = this.opts.account ?? this.opts.nick;
    const b64 = Buffer.from(`\0${authcid}\0${this.opts.password ?? ''}`, 'utf8').toString('base64');
    for (let i = 0; i < b64.length; i += SASL_CHUNK) this.send('AUTHENTICATE', b64.slice(i, i + SASL_CHUNK));
    // sasl-3.1: a payload that is a multiple of 400 bytes is terminated by an empty "+" chunk.
    if (b64.length % SASL_CHUNK === 0) this.send('AUTHENTICATE', '+');
  }

  private retryNick(why: string): RegistrationResult | undefined {
    if (this.retries >= this.opts.maxNickRetries)
      return this.fail(`${why}; gave up after ${this.retries} retries`, false, 'nick');
    this.retries++;
    const base = this.opts.nick.slice(
      0,
      Math.max(1, Math.min(this.opts.nick.length, this.maxNickLength - this.retries)),
    );
    this.nick = base + '_'.repeat(this.retries);
    this.send('NICK', this.nick);
    return undefined;
  }

  private fail(message: string, permanent: boolean, reason?: IrcLoginError['reason']): RegistrationResult {
    return { done: false, error: new IrcLoginError(message, permanent, reason) };
  }
}
