// IRC addresses as gateway JIDs (DESIGN §6, XEP-0100 §6.3): a user is `nick%server`, a channel (an XEP-0045 room)
// is `#chan%server`, both as the JID localpart on the gateway domain. The framework applies XEP-0106 escaping, so
// channel names may carry characters RFC 7622 forbids (`&chan` → `\26chan`). The server part is an IRC server name
// from the gateway's configuration; '%' cannot occur in a host name, so the *last* '%' separates it (channel names
// may contain '%': RFC 2812 §1.3).
import type { AddressCodec, LegacyId } from '../core/driver.js';
import { isValidChannel, isValidNick } from './codec.js';

/** Remote nicks may be longer than RFC 2812's 9 (servers announce NICKLEN); this only bounds garbage. */
const REMOTE_NICK_MAX = 64;
/** RFC 1035 §2.3.4: a host name is at most 253 characters in text form. */
const HOST = /^(?=.{1,253}$)[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*$/;

export type IrcTarget =
  | { readonly kind: 'user'; readonly nick: string; readonly server: string }
  | { readonly kind: 'channel'; readonly channel: string; readonly server: string };

export interface IrcAddressOptions {
  /** Server appended to what a user types without one (jabber:iq:gateway prompts only). */
  readonly defaultServer?: string;
  /** Whether a server may be used: the configured ones, or any host name when unlisted servers are allowed. */
  isAllowedServer(server: string): boolean;
}

export function isHostName(s: string): boolean {
  return HOST.test(s);
}

/** Splits a canonical id; undefined for anything that is not a valid `nick%server` or `#chan%server`. */
export function parseIrcId(id: LegacyId): IrcTarget | undefined {
  const pct = id.lastIndexOf('%');
  if (pct <= 0) return undefined;
  const name = id.slice(0, pct);
  const server = id.slice(pct + 1).toLowerCase();
  if (!isHostName(server)) return undefined;
  if (isValidChannel(name)) return { kind: 'channel', channel: name, server };
  if (isValidNick(name, REMOTE_NICK_MAX)) return { kind: 'user', nick: name, server };
  return undefined;
}

export function userId(nick: string, server: string): LegacyId {
  return `${nick}%${server}`;
}

export function channelId(channel: string, server: string): LegacyId {
  return `${channel}%${server}`;
}

/** The AddressCodec of one IRC gateway. */
export function ircAddressCodec(opts: IrcAddressOptions): AddressCodec {
  const accept = (id: LegacyId): LegacyId | null => {
    const t = parseIrcId(id);
    if (!t || !opts.isAllowedServer(t.server)) return null;
    return t.kind === 'user' ? userId(t.nick, t.server) : channelId(t.channel, t.server);
  };
  return {
    description: opts.defaultServer
      ? `Enter an IRC nick or #channel, optionally followed by %server (default server: ${opts.defaultServer})`
      : 'Enter an IRC nick or #channel followed by %server, e.g. alice%irc.example.net',
    prompt: 'IRC nick or channel',
    parse(input: string): LegacyId | null {
      const s = input.trim();
      if (s === '') return null;
      if (s.includes('%')) return accept(s);
      return opts.defaultServer ? accept(`${s}%${opts.defaultServer}`) : null;
    },
    toLocal: (id: LegacyId) => id,
    // Strict: a room JID must name its server, or replies would come from a different JID than the one joined.
    fromLocal: (local: string) => accept(local),
  };
}
