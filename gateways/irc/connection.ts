// One user's connection to one IRC server, translated for the gateway framework: private messages ⇄ `chat`,
// NOTICE → `normal`, channels through channels.ts, CTCP ACTION ⇄ XEP-0245 '/me', AWAY ⇄ presence, and presence of
// watched nicks polled with USERHOST (RFC 2812 §4.8: '-' marks an away user; absent nicks are offline).
import type { Logger } from 'pino';
import { LegacyError, type LegacyMessage, type UpstreamSink } from '../core/driver.js';
import { channelId, type IrcTarget, userId } from './address.js';
import { Channels } from './channels.js';
import { IrcClient, type IrcClientOptions, type TextEvent } from './client.js';
import {
  type Ctcp,
  type IrcMessage,
  ircLower,
  ircTextToXmpp,
  ircToXmppBody,
  parseCtcp,
  parseXmppBody,
} from './codec.js';

export interface ConnectionOptions {
  /** The server name used in addresses (`nick%server`). */
  readonly server: string;
  readonly client: IrcClientOptions;
  readonly joinTimeoutMs: number;
  /** Interval of the USERHOST poll for watched nicks. */
  readonly pollMs: number;
  /** Answer to CTCP VERSION. */
  readonly version: string;
  readonly log: Logger;
}

type Seen = 'online' | 'away' | 'offline';

/** RFC 2812 §4.8: USERHOST takes up to five nicknames. */
const USERHOST_MAX = 5;
/** CTCP answers are rate-limited so that a CTCP flood cannot fill our paced send queue. */
const CTCP_INTERVAL_MS = 2000;

export class IrcConnection {
  readonly client: IrcClient;
  readonly channels: Channels;
  private readonly watched = new Map<string, { nick: string; seen: Seen | 'unknown' }>();
  private readonly userhostQueries: string[][] = [];
  private poll: NodeJS.Timeout | undefined;
  private lastCtcp = 0;
  private awayMessage: string | null = null;
  /** Set by close(): the end is ours, so nothing more goes upstream. */
  private closing = false;
  /** Called once when the connection ends after registration. */
  onClose: (reason: string) => void = () => {};

  constructor(
    private readonly opts: ConnectionOptions,
    private readonly up: UpstreamSink,
  ) {
    this.client = new IrcClient(opts.client);
    this.channels = new Channels(this.client, opts.server, up, opts.joinTimeoutMs);
    this.wire();
  }

  get server(): string {
    return this.opts.server;
  }

  /** Connects and registers (the client's connect timeout bounds it; `signal` aborts it). */
  async open(signal: AbortSignal): Promise<void> {
    await this.client.connect(signal);
    this.poll = setInterval(() => this.pollWatched(), this.opts.pollMs);
    this.poll.unref();
    if (this.awayMessage !== null) await this.client.send('AWAY', this.awayMessage);
  }

  private wire(): void {
    const c = this.client;
    c.on('privmsg', (e) => this.onText(e, false));
    c.on('notice', (e) => this.onText(e, true));
    c.on('join', (e) => this.channels.onJoin(e.who.nick, e.channel));
    c.on('part', (e) => this.channels.onLeave(e.who.nick, e.channel, e.reason, false));
    c.on('kick', (e) => this.channels.onLeave(e.nick, e.channel, e.reason, true));
    c.on('names', (e) => this.channels.onNames(e.channel, e.names));
    c.on('topic', (e) => this.channels.onTopic(e.channel, e.topic, e.by?.nick));
    c.on('quit', (e) => {
      this.channels.onQuit(e.who.nick, e.reason);
      this.seen(e.who.nick, 'offline');
    });
    c.on('nick', (e) => {
      const isSelf = this.client.same(e.nick, this.client.nick);
      this.channels.onNick(e.who.nick, e.nick, isSelf);
      if (!isSelf) this.seen(e.who.nick, 'offline');
    });
    // RPL_AWAY (RFC 2812 §5.1, 301): sent when we message an away user, and in WHOIS replies.
    c.on('away', (e) => this.presenceOf(e.nick, 'away', e.message));
    c.on('ircError', (e) => this.onError(e.code, e.params, e.text));
    c.on('message', (m) => this.onRaw(m));
    c.on('dropped', (n) => this.opts.log.warn({ server: this.server, lines: n }, 'overlong IRC lines dropped'));
    c.on('handlerError', (err, m) => this.opts.log.error({ err, command: m.command }, 'IRC line handling failed'));
    c.on('close', (reason) => {
      if (this.poll) clearInterval(this.poll);
      this.channels.closed(reason, this.closing);
      if (!this.closing) this.onClose(reason);
    });
  }

  private isChannel(target: string): boolean {
    const types = this.client.isupport.get('CHANTYPES') ?? '#&+!'; // RFC 2812 §1.3 prefixes by default
    return target.length > 0 && types.includes(target[0]!);
  }

  private onText(e: TextEvent, notice: boolean): void {
    const { from, target, text } = e;
    const channel = this.isChannel(target);
    // A prefix without user@host is a server (RFC 2812 §2.3.1 servername): its notices are not conversations.
    if (from.host === undefined || (!channel && !this.client.same(target, this.client.nick))) return;
    const ctcp = parseCtcp(text);
    if (ctcp && ctcp.command !== 'ACTION') {
      // CTCP requests arrive in PRIVMSG and are answered by NOTICE; replies (in NOTICE) are never answered.
      if (!notice && !channel) this.answerCtcp(from.nick, ctcp);
      return;
    }
    const body = ircToXmppBody(text);
    if (body === undefined || body === '') return;
    if (channel) {
      if (!this.channels.isJoined(target)) return;
      this.up.message(channelId(target, this.server), { type: 'groupchat', nick: from.nick, body });
      return;
    }
    this.up.message(userId(from.nick, this.server), { type: notice ? 'normal' : 'chat', body });
  }

  private answerCtcp(nick: string, ctcp: Ctcp): void {
    const now = Date.now();
    if (now - this.lastCtcp < CTCP_INTERVAL_MS) return;
    this.lastCtcp = now;
    const reply: Record<string, string> = {
      VERSION: this.opts.version,
      PING: ctcp.args,
      TIME: new Date().toUTCString(),
      CLIENTINFO: 'ACTION CLIENTINFO PING TIME VERSION',
    };
    const answer = reply[ctcp.command];
    if (answer === undefined) return;
    const text = `\x01${ctcp.command}${answer ? ` ${answer}` : ''}\x01`.replace(/[\r\n\0]/g, '');
    this.client.send('NOTICE', nick, text).catch((err: Error) => this.opts.log.debug({ err }, 'CTCP reply not sent'));
  }

  private onError(code: string, params: readonly string[], text: string): void {
    if (this.channels.onError(code, params, text)) return;
    const subject = params[1] ?? '';
    const why = ircTextToXmpp(text);
    if (code === '401' && subject) {
      // ERR_NOSUCHNICK: the contact is not on IRC.
      this.presenceOf(subject, 'offline', why);
    } else if ((code === '404' || code === '482' || code === '442') && this.channels.isJoined(subject)) {
      // ERR_CANNOTSENDTOCHAN, ERR_CHANOPRIVSNEEDED, ERR_NOTONCHANNEL: a message from the room itself.
      this.up.message(channelId(subject, this.server), { type: 'groupchat', body: `${subject}: ${why}` });
    } else {
      this.opts.log.debug({ server: this.server, code, params }, 'IRC error reply');
    }
  }

  /** XEP-0045 §7.4 and XEP-0100 §4.8: a message from the user; a room message is reflected once sent. */
  async sendMessage(target: IrcTarget, m: LegacyMessage): Promise<void> {
    if (target.kind === 'user') {
      const { text, action } = parseXmppBody(m.body);
      await this.client.say(target.nick, text, { action });
      return;
    }
    const name = target.channel;
    if (!this.channels.isJoined(name)) {
      // XEP-0045 §7.4: only occupants may send to the room.
      throw new LegacyError(`join ${name} before sending to it`, 'not-acceptable');
    }
    if (m.subject !== undefined && m.body === '') {
      await this.client.send('TOPIC', name, m.subject.replace(/[\r\n]+/g, ' ')); // RFC 2812 §3.2.4
      return;
    }
    const { text, action } = parseXmppBody(m.body);
    if (text.trim() === '') return; // IRC cannot carry an empty message (ERR_NOTEXTTOSEND)
    await this.client.say(name, text, { action });
    const reflected: LegacyMessage = { type: 'groupchat', nick: this.client.nick, body: m.body };
    this.up.message(channelId(name, this.server), m.id === undefined ? reflected : { ...reflected, id: m.id });
  }

  /** RFC 2812 §4.1 AWAY with a text marks us away; without one, back. */
  async setAway(message: string | null): Promise<void> {
    if (message === this.awayMessage) return;
    this.awayMessage = message;
    if (!this.client.connected) return;
    await (message === null ? this.client.send('AWAY') : this.client.send('AWAY', message));
  }

  watch(nick: string): void {
    const key = ircLower(nick, this.client.caseMapping);
    if (!this.watched.has(key)) this.watched.set(key, { nick, seen: 'unknown' });
    this.pollWatched();
  }

  unwatch(nick: string): void {
    this.watched.delete(ircLower(nick, this.client.caseMapping));
  }

  private pollWatched(): void {
    if (!this.client.connected) return;
    // A server that does not answer USERHOST must not make the query list grow: start over.
    if (this.userhostQueries.length > 100) this.userhostQueries.length = 0;
    const nicks = [...this.watched.values()].map((w) => w.nick);
    for (let i = 0; i < nicks.length; i += USERHOST_MAX) {
      const batch = nicks.slice(i, i + USERHOST_MAX);
      this.userhostQueries.push(batch);
      this.client.send('USERHOST', ...batch).catch(() => this.userhostQueries.shift());
    }
  }

  private onRaw(m: IrcMessage): void {
    if (m.command !== '302') return;
    // RPL_USERHOST: "<me> :nick[*]=(+|-)user@host …"; replies come in the order of the queries.
    const asked = this.userhostQueries.shift() ?? [];
    const present = new Map<string, Seen>();
    for (const tok of (m.params[1] ?? '').split(' ')) {
      const r = /^([^*=]+)\*?=([+-])/.exec(tok);
      if (r) present.set(ircLower(r[1]!, this.client.caseMapping), r[2] === '-' ? 'away' : 'online');
    }
    for (const nick of asked) this.seen(nick, present.get(ircLower(nick, this.client.caseMapping)) ?? 'offline');
  }

  /** A watched nick's state from a poll, QUIT or NICK; only changes are reported. */
  private seen(nick: string, seen: Seen): void {
    const w = this.watched.get(ircLower(nick, this.client.caseMapping));
    if (!w || w.seen === seen) return;
    w.seen = seen;
    // The away text comes with RPL_AWAY in the WHOIS reply.
    if (seen === 'away') this.client.send('WHOIS', w.nick).catch(() => this.presenceOf(w.nick, 'away', ''));
    else this.presenceOf(w.nick, seen, '');
  }

  private presenceOf(nick: string, seen: Seen, status: string): void {
    const w = this.watched.get(ircLower(nick, this.client.caseMapping));
    if (w) w.seen = seen;
    const text = ircTextToXmpp(status);
    const id = userId(nick, this.server);
    if (seen === 'offline') this.up.presence(id, { available: false, ...(text ? { status: text } : {}) });
    else if (seen === 'away')
      this.up.presence(id, { available: true, show: 'away', ...(text ? { status: text } : {}) });
    else this.up.presence(id, { available: true });
  }

  /** Ends the connection: QUIT (RFC 2812 §3.1.7), bounded wait, close. */
  async close(reason: string): Promise<void> {
    if (this.poll) clearInterval(this.poll);
    this.closing = true;
    await this.client.quit(reason);
  }
}
