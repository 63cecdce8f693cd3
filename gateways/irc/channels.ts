// IRC channels of one connection as XEP-0045 rooms: membership kept from NAMES/JOIN/PART/KICK/QUIT/NICK, turned
// into occupant presence (XEP-0045 §7.2.3 entry, §7.6 nick change, §7.14 exit) and the subject (§7.2.15).
import { LegacyError, type LegacyErrorCondition, type LegacyOccupant, type UpstreamSink } from '../core/driver.js';
import { channelId } from './address.js';
import type { IrcClient } from './client.js';
import { ircLower, ircTextToXmpp } from './codec.js';

interface Member {
  nick: string;
  /** RPL_NAMREPLY prefixes (RFC 2812 §5.1: '@' operator, '+' voice; common extensions '~&%'). */
  modes: string;
}

interface PendingJoin {
  readonly requestedNick: string;
  readonly resolve: () => void;
  readonly reject: (err: Error) => void;
  readonly timer: NodeJS.Timeout;
}

interface Channel {
  /** The name as the server spells it. */
  name: string;
  joined: boolean;
  readonly members: Map<string, Member>;
  topic: string;
  pending?: PendingJoin;
}

/** JOIN failures (RFC 2812 §5.2) as XEP-0045 §7.2 entry errors. */
const JOIN_ERRORS: Readonly<Record<string, LegacyErrorCondition>> = {
  '403': 'item-not-found', // ERR_NOSUCHCHANNEL
  '405': 'resource-constraint', // ERR_TOOMANYCHANNELS
  '437': 'service-unavailable', // ERR_UNAVAILRESOURCE
  '471': 'service-unavailable', // ERR_CHANNELISFULL (XEP-0045 §7.2.10 max users)
  '473': 'forbidden', // ERR_INVITEONLYCHAN (XEP-0045 §7.2.7 members-only)
  '474': 'forbidden', // ERR_BANNEDFROMCHAN (XEP-0045 §7.2.8 banned)
  '475': 'not-authorized', // ERR_BADCHANNELKEY (XEP-0045 §7.2.5 password)
  '476': 'item-not-found', // ERR_BADCHANMASK
  '477': 'forbidden', // ERR_NOCHANMODES / need a registered nick
};

/** XEP-0045 §5: IRC prefixes as role and affiliation; a plain member is affiliation none, role participant. */
function roleOf(modes: string): Pick<LegacyOccupant, 'role' | 'affiliation'> {
  if (modes.includes('~')) return { role: 'moderator', affiliation: 'owner' };
  if (modes.includes('&') || modes.includes('@')) return { role: 'moderator', affiliation: 'admin' };
  if (modes.includes('%')) return { role: 'moderator', affiliation: 'member' };
  return { role: 'participant', affiliation: modes.includes('+') ? 'member' : 'none' };
}

export class Channels {
  private readonly channels = new Map<string, Channel>();

  constructor(
    private readonly client: IrcClient,
    private readonly server: string,
    private readonly up: UpstreamSink,
    private readonly joinTimeoutMs: number,
  ) {}

  private key(name: string): string {
    return ircLower(name, this.client.caseMapping);
  }

  private room(name: string): string {
    return channelId(this.channels.get(this.key(name))?.name ?? name, this.server);
  }

  isJoined(name: string): boolean {
    return this.channels.get(this.key(name))?.joined === true;
  }

  /** Channels the user is in (or entering), for re-sending presence or leaving. */
  names(): string[] {
    return [...this.channels.values()].map((c) => c.name);
  }

  /** XEP-0045 §7.2: JOIN, resolved once NAMES is complete and the occupants and self-presence were reported. */
  join(name: string, requestedNick: string, key?: string): Promise<void> {
    const existing = this.channels.get(this.key(name));
    if (existing?.joined) {
      this.replay(existing, requestedNick);
      return Promise.resolve();
    }
    if (existing?.pending) return Promise.reject(new LegacyError(`already joining ${name}`, 'not-acceptable'));
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.channels.delete(this.key(name));
        reject(new LegacyError(`no answer to JOIN ${name}`, 'remote-server-timeout'));
      }, this.joinTimeoutMs);
      const chan: Channel = { name, joined: false, members: new Map(), topic: '' };
      chan.pending = { requestedNick, resolve, reject, timer };
      this.channels.set(this.key(name), chan);
      this.client.send('JOIN', ...(key ? [name, key] : [name])).catch((err: Error) => this.failJoin(name, err));
    });
  }

  part(name: string, reason?: string): Promise<void> {
    const chan = this.channels.get(this.key(name));
    if (!chan) return Promise.resolve();
    this.channels.delete(this.key(name));
    if (chan.pending) this.failJoin(name, new LegacyError('left before the join completed', 'not-acceptable'));
    return this.client.send('PART', ...(reason ? [name, reason] : [name]));
  }

  private failJoin(name: string, err: Error): void {
    const chan = this.channels.get(this.key(name));
    const pending = chan?.pending;
    if (!pending) return;
    clearTimeout(pending.timer);
    delete chan.pending;
    if (!chan.joined) this.channels.delete(this.key(name));
    pending.reject(err);
  }

  /** An ERR_* numeric: settles a pending JOIN it names (RFC 2812 §3.2.1 lists JOIN's error replies). */
  onError(code: string, params: readonly string[], text: string): boolean {
    const condition = JOIN_ERRORS[code];
    const name = params[1];
    if (!condition || !name || !this.channels.get(this.key(name))?.pending) return false;
    this.failJoin(name, new LegacyError(`${name}: ${text}`, condition));
    return true;
  }

  onJoin(nick: string, name: string): void {
    const chan = this.channels.get(this.key(name));
    if (!chan) return;
    if (this.client.same(nick, this.client.nick)) {
      chan.name = name;
      chan.joined = true;
      return;
    }
    chan.members.set(this.key(nick), { nick, modes: '' });
    if (!chan.pending) this.up.occupant?.(this.room(name), { nick, available: true, ...roleOf('') });
  }

  /** RPL_ENDOFNAMES: on entry, the occupants, then our own presence (XEP-0045 §7.2.3 order), then the subject. */
  onNames(name: string, names: readonly Member[]): void {
    const chan = this.channels.get(this.key(name));
    if (!chan) return;
    chan.members.clear();
    for (const m of names) chan.members.set(this.key(m.nick), { nick: m.nick, modes: m.modes });
    const pending = chan.pending;
    if (!pending || !chan.joined) return;
    clearTimeout(pending.timer);
    delete chan.pending;
    this.replay(chan, pending.requestedNick);
    pending.resolve();
  }

  private replay(chan: Channel, requestedNick: string): void {
    const room = this.room(chan.name);
    const self = this.client.nick;
    let selfModes = '';
    for (const m of chan.members.values()) {
      if (this.client.same(m.nick, self)) selfModes = m.modes;
      else this.up.occupant?.(room, { nick: m.nick, available: true, ...roleOf(m.modes) });
    }
    // XEP-0045 §7.2.3 status 110; §7.2.9 status 210 when the service changed the requested nick (IRC keeps one nick
    // per connection, and collisions add '_').
    const codes = requestedNick === self ? [110] : [110, 210];
    this.up.occupant?.(room, { nick: self, available: true, ...roleOf(selfModes), codes });
    // XEP-0045 §7.2.15: the subject (empty when there is none) tells the client the entry is complete.
    this.up.message(room, { type: 'groupchat', body: '', subject: chan.topic });
  }

  onTopic(name: string, topic: string, by?: string): void {
    const chan = this.channels.get(this.key(name));
    if (!chan) return;
    chan.topic = ircTextToXmpp(topic);
    if (!chan.joined || chan.pending) return; // RPL_TOPIC during entry: sent after the self-presence
    this.up.message(this.room(name), {
      type: 'groupchat',
      body: '',
      subject: chan.topic,
      ...(by ? { nick: by } : {}),
    });
  }

  /** PART or KICK of someone (or us): XEP-0045 §7.14 exit, §9.1 kick (status 307). */
  onLeave(nick: string, name: string, reason: string, kicked: boolean): void {
    const chan = this.channels.get(this.key(name));
    if (!chan) return;
    const room = this.room(name);
    const isSelf = this.client.same(nick, this.client.nick);
    const codes = [...(kicked ? [307] : []), ...(isSelf ? [110] : [])];
    chan.members.delete(this.key(nick));
    if (isSelf) this.channels.delete(this.key(name));
    const status = ircTextToXmpp(reason);
    this.up.occupant?.(room, { nick, available: false, role: 'none', ...(status ? { status } : {}), codes });
  }

  onQuit(nick: string, reason: string): void {
    const status = ircTextToXmpp(reason);
    for (const chan of this.channels.values()) {
      if (!chan.members.delete(this.key(nick)) || chan.pending) continue;
      this.up.occupant?.(this.room(chan.name), { nick, available: false, ...(status ? { status } : {}) });
    }
  }

  /** XEP-0045 §7.6: unavailable with 303 and the new nick, then available under the new nick. */
  onNick(oldNick: string, newNick: string, isSelf: boolean): void {
    const self = isSelf ? [110] : [];
    for (const chan of this.channels.values()) {
      const m = chan.members.get(this.key(oldNick));
      if (!m) continue;
      chan.members.delete(this.key(oldNick));
      chan.members.set(this.key(newNick), { nick: newNick, modes: m.modes });
      if (chan.pending) continue;
      const room = this.room(chan.name);
      const role = roleOf(m.modes);
      this.up.occupant?.(room, { nick: oldNick, available: false, ...role, newNick, codes: [303, ...self] });
      this.up.occupant?.(room, { nick: newNick, available: true, ...role, codes: self });
    }
  }

  /** The connection is gone: pending joins fail, joined rooms end with XEP-0045 §15.6 status 332 (unless the
   * user logged out: the framework ends the rooms itself and the sink must not be called after logout). */
  closed(reason: string, silent = false): void {
    for (const chan of [...this.channels.values()]) {
      if (chan.pending) this.failJoin(chan.name, new LegacyError(reason, 'remote-server-not-found'));
      else if (chan.joined && !silent) {
        const o: LegacyOccupant = { nick: this.client.nick, available: false, status: reason, codes: [110, 332] };
        this.up.occupant?.(this.room(chan.name), o);
      }
    }
    this.channels.clear();
  }
}
