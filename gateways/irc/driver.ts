// The IRC gateway driver (DESIGN §6, docs/gateways.md): registration (nick, optional SASL password, server),
// addresses `nick%server` / `#chan%server`, and login = one IRC connection per XMPP user per IRC server. The
// translation itself lives in session.ts, connection.ts and channels.ts; the wire protocol in client.ts/codec.ts.
import { readFileSync } from 'node:fs';
import { type Static, Type } from '@sinclair/typebox';
import {
  type DriverContext,
  defineDriver,
  type GatewayDriver,
  type LegacyId,
  RegistrationError,
  type RegistrationField,
} from '../core/driver.js';
import { ircAddressCodec, isHostName, parseIrcId, userId } from './address.js';
import type { IrcClientOptions } from './client.js';
import { isValidNick } from './codec.js';
import { IrcConnection } from './connection.js';
import { IrcSession, toLegacyError } from './session.js';

const strict = { additionalProperties: false } as const;
const NonEmpty = () => Type.String({ minLength: 1 });

export const IrcServerSchema = Type.Object(
  {
    /** Host to connect to; default: the server name itself. */
    host: Type.Optional(NonEmpty()),
    /** Default 6697 with TLS (RFC 7194), 6667 without. */
    port: Type.Optional(Type.Integer({ minimum: 1, maximum: 65535 })),
    // Optional rather than defaulted: TypeBox's Value.Default does not reach into Record values.
    /** Direct TLS (RFC 7194); default true. */
    tls: Type.Optional(Type.Boolean()),
    /** Verify the server certificate (chain and name); default true. Turn off only for test networks. */
    tls_verify: Type.Optional(Type.Boolean()),
    /** PEM file of extra CA certificates to trust for this server. */
    ca_file: Type.Optional(NonEmpty()),
    /** Name to send in SNI and to verify the certificate against, when `host` is an address; default: host. */
    tls_name: Type.Optional(NonEmpty()),
  },
  strict,
);

export const IrcOptionsSchema = Type.Object(
  {
    /** IRC servers users may use, keyed by the name that appears in addresses (`nick%name`). */
    servers: Type.Record(Type.String(), IrcServerSchema, { default: {} }),
    /** Pre-selected server of the registration form and of addresses typed without `%server`. */
    default_server: Type.Optional(NonEmpty()),
    /** Let users name any IRC server by host name (TLS on 6697). Off: only the servers listed above. */
    allow_unlisted_servers: Type.Boolean({ default: false }),
    /** RFC 2812 §3.1.3 USER parameters: no spaces, no '@'. */
    username: Type.String({ pattern: '^[^\\s@]{1,32}$', default: 'xmpp' }),
    realname: Type.String({ minLength: 1, maxLength: 100, default: 'Switchboard XMPP gateway user' }),
    /** Longest nick the registration form accepts (servers announce their own NICKLEN; RFC 2812 says 9). */
    nick_max_length: Type.Integer({ minimum: 1, maximum: 64, default: 30 }),
    /** Outgoing pacing per connection: lines sent back to back, then lines per second (RFC 1459 §8.10). */
    flood_burst: Type.Integer({ minimum: 1, maximum: 1000, default: 5 }),
    flood_lines_per_second: Type.Number({ exclusiveMinimum: 0, maximum: 1000, default: 2 }),
    max_queued_lines: Type.Integer({ minimum: 10, default: 2000 }),
    max_nick_retries: Type.Integer({ minimum: 0, maximum: 20, default: 5 }),
    connect_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 20 }),
    join_timeout_seconds: Type.Number({ exclusiveMinimum: 0, default: 15 }),
    keepalive_seconds: Type.Number({ minimum: 5, default: 90 }),
    /** How often the presence of watched nicks (roster contacts) is polled with USERHOST. */
    presence_poll_seconds: Type.Number({ minimum: 1, default: 60 }),
    ctcp_version: Type.String({ default: 'Switchboard XMPP gateway' }),
  },
  strict,
);

export type IrcOptions = Static<typeof IrcOptionsSchema>;
export type IrcServerOptions = Static<typeof IrcServerSchema>;

/** What a registration stores (JSON round-trip safe). */
export interface IrcCredentials {
  readonly nick: string;
  readonly password?: string;
  /** The IRC server the user logs in to (a configured server name, or a host name if unlisted ones are allowed). */
  readonly server: string;
}

/** The driver for one gateway domain. */
export function createIrcDriver(ctx: DriverContext<IrcOptions>): GatewayDriver<IrcCredentials> {
  const o = ctx.options;
  const servers = new Map(Object.entries(o.servers).map(([name, s]) => [name.toLowerCase(), s]));
  const cas = new Map<string, Buffer>();
  // Fail fast (DESIGN §1): a configured CA file that cannot be read stops the gateway from starting.
  for (const [name, s] of servers) if (s.ca_file) cas.set(name, readFileSync(s.ca_file));
  const defaultServer = o.default_server?.toLowerCase();
  const isAllowedServer = (server: string) => servers.has(server) || (o.allow_unlisted_servers && isHostName(server));
  const address = ircAddressCodec({ ...(defaultServer ? { defaultServer } : {}), isAllowedServer });
  address.occupant = (room: LegacyId, nick: string) => {
    // XEP-0045 §7.5: a private message to an occupant is a private message to that nick on the same server.
    const t = parseIrcId(room);
    return t && isValidNick(nick, 64) ? userId(nick, t.server) : null;
  };
  address.isRoom = (id: LegacyId) => parseIrcId(id)?.kind === 'channel';
  /** Watched contacts per user (bare JID), kept across logins of the same gateway instance. */
  const watched = new Map<string, Set<LegacyId>>();

  const serverField: RegistrationField =
    o.allow_unlisted_servers || servers.size === 0
      ? {
          var: 'server',
          type: 'text-single',
          label: 'IRC server',
          ...(defaultServer ? { default: defaultServer } : {}),
        }
      : {
          var: 'server',
          type: 'list-single',
          label: 'IRC server',
          options: [...servers.keys()].map((name) => ({ label: name, value: name })),
          ...(defaultServer ? { default: defaultServer } : {}),
        };

  const clientOptions = (server: string, cred: IrcCredentials): IrcClientOptions => {
    const s: IrcServerOptions = servers.get(server) ?? {};
    const useTls = s.tls ?? true;
    const ca = cas.get(server);
    return {
      host: s.host ?? server,
      port: s.port ?? (useTls ? 6697 : 6667),
      tls: useTls
        ? {
            rejectUnauthorized: s.tls_verify ?? true,
            ...(ca ? { ca } : {}),
            ...(s.tls_name ? { servername: s.tls_name } : {}),
          }
        : false,
      nick: cred.nick,
      username: o.username,
      realname: o.realname,
      // The password belongs to the account on the registered server only.
      ...(server === cred.server && cred.password ? { password: cred.password } : {}),
      maxNickRetries: o.max_nick_retries,
      flood: { burst: o.flood_burst, perSecond: o.flood_lines_per_second, maxQueued: o.max_queued_lines },
      connectTimeoutMs: o.connect_timeout_seconds * 1000,
      keepaliveMs: o.keepalive_seconds * 1000,
    };
  };

  return {
    kind: 'irc',
    name: 'IRC gateway',
    instructions:
      'Choose your IRC nickname and server. The password is optional: it is sent with SASL PLAIN when the ' +
      'server offers it (IRCv3), otherwise as the server password (PASS).',
    registration: [
      { var: 'nick', type: 'text-single', label: 'IRC nickname', required: true },
      {
        var: 'password',
        type: 'text-private',
        label: 'Password (SASL)',
        desc: 'Account (NickServ/SASL) password; leave empty for none',
      },
      serverField,
    ],
    address,

    async validateRegistration(form: Record<string, string>): Promise<IrcCredentials> {
      const nick = (form.nick ?? '').trim();
      if (!isValidNick(nick, o.nick_max_length)) {
        throw new RegistrationError(`"${nick}" is not a valid IRC nickname (RFC 2812 §2.3.1)`);
      }
      const server = (form.server?.trim() || defaultServer || '').toLowerCase();
      if (!server) throw new RegistrationError('choose an IRC server');
      if (!isAllowedServer(server)) throw new RegistrationError(`${server} is not an IRC server of this gateway`);
      const password = form.password ?? '';
      if (/[\r\n\0]/.test(password)) throw new RegistrationError('the password cannot contain line breaks');
      return password ? { nick, password, server } : { nick, server };
    },

    async login(user, cred, up, signal) {
      if (signal.aborted) throw toLegacyError(signal.reason);
      const key = user.bare().toString();
      const mine = watched.get(key) ?? new Set<LegacyId>();
      watched.set(key, mine);
      const log = ctx.log.child({ user: key });
      return IrcSession.open(
        {
          primary: cred.server,
          watched: mine,
          connectTimeoutMs: o.connect_timeout_seconds * 1000,
          log,
          makeConnection: (server, sink) =>
            new IrcConnection(
              {
                server,
                client: clientOptions(server, cred),
                joinTimeoutMs: o.join_timeout_seconds * 1000,
                pollMs: o.presence_poll_seconds * 1000,
                version: o.ctcp_version,
                log,
              },
              sink,
            ),
        },
        up,
        signal,
      );
    },
  };
}

export const ircDriver = defineDriver({
  name: 'irc',
  options: IrcOptionsSchema,
  create: (ctx: DriverContext<IrcOptions>) => createIrcDriver(ctx),
});
