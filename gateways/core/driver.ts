// The contract between gateways/core (which owns XEP-0100) and a legacy-network driver (which only translates).
// DESIGN §6. A driver never sees XMPP stanzas: the framework turns XEP-0077 registration, presence-driven
// login/logout (XEP-0100 §4.4, §4.5), address translation (XEP-0100 §6.3, XEP-0106) and message ordering into
// calls on these interfaces, and turns the driver's upstream calls back into stanzas.
//
// Stability: the IRC and SIP drivers are written against this file. Add optional members only.
import type { TSchema } from '@sinclair/typebox';
import type { Logger } from 'pino';
import type { StanzaError, StanzaErrorCondition } from '../../server/errors/index.js';
import type { Jid } from '../../server/jid/index.js';

/** A local user's bare JID (no resource); the framework only ever passes bare JIDs to drivers. */
export type BareJid = Jid;

/**
 * A legacy address in the driver's canonical form, e.g. `sip:alice@pbx.example`, `bob%irc.libera.chat` or
 * `#chan%irc.libera.chat`. It is what the driver receives in sendMessage() and passes to UpstreamSink.
 */
export type LegacyId = string;

/**
 * Maps legacy addresses to and from JID localparts on the gateway domain (XEP-0100 §6.3, DESIGN §6).
 * The codec works on *unescaped* localparts; the framework applies XEP-0106 escaping (§4.2) on the way to a
 * JID and unescaping (§4.3) on the way back, so `sip:alice@pbx.example` → toLocal → `alice@pbx.example` →
 * escape → `alice\40pbx.example@sip.example.com`.
 *
 * Localparts are case-folded by RFC 7622 (UsernameCaseMapped), so fromLocal() receives lowercase text: a codec
 * for a case-sensitive network must either use lowercase canonical ids or restore case itself.
 */
export interface AddressCodec {
  /** XEP-0100 §6.3 `<desc/>`: tells the user what to type, e.g. "Enter the SIP address of the contact". */
  readonly description: string;
  /** XEP-0100 §6.3 `<prompt/>` label in the get result, e.g. "SIP address". */
  readonly prompt: string;
  /** Normalises what a user typed into a canonical LegacyId (e.g. adds `sip:`), or null when it is not one. */
  parse(input: string): LegacyId | null;
  /** Canonical LegacyId → unescaped localpart. Must be total on ids returned by parse() and by the driver. */
  toLocal(id: LegacyId): string;
  /** Unescaped (and case-folded) localpart → LegacyId, or null when the localpart names no legacy address. */
  fromLocal(local: string): LegacyId | null;
  /**
   * Optional, for drivers with rooms (XEP-0045 §7.5): the legacy id of a room occupant for a private message sent
   * to `room@gateway/nick`, or null when the network has no private messages between occupants.
   */
  occupant?(room: LegacyId, nick: string): LegacyId | null;
  /** Optional, for drivers with rooms: whether `id` names a room (XEP-0045 §6.4 disco#info on the room JID). */
  isRoom?(id: LegacyId): boolean;
}

/** XEP-0004 §3.3 field types a registration form may use. */
export type RegistrationFieldType =
  | 'text-single'
  | 'text-private'
  | 'boolean'
  | 'list-single'
  | 'list-multi'
  | 'text-multi'
  | 'fixed'
  | 'hidden';

/**
 * One field of the gateway's XEP-0077 registration form (XEP-0077 §4 extensibility via XEP-0004). When `var`
 * is one of the XEP-0077 §14.2 registered names (`username`, `password`, `nick`, `email`, …) the framework also
 * offers the legacy `<username/>` style element, so clients without data forms can register (XEP-0100 §4.1.1).
 */
export interface RegistrationField {
  readonly var: string;
  readonly type: RegistrationFieldType;
  readonly label: string;
  /** XEP-0004 §3.2 `<required/>`: the framework rejects a submission without it (not-acceptable). */
  readonly required?: boolean;
  /** XEP-0004 §3.2 `<desc/>`. */
  readonly desc?: string;
  /** Pre-filled value for a new registration; existing registrations show the stored value instead. */
  readonly default?: string;
  /** XEP-0004 §3.2 `<option/>` for list-* types. */
  readonly options?: readonly { readonly label: string; readonly value: string }[];
  /**
   * Never echo the stored value back in the form of an existing registration (passwords). Defaults to true
   * for `text-private` fields.
   */
  readonly secret?: boolean;
}

/** A message in either direction. */
export interface LegacyMessage {
  readonly body: string;
  /** RFC 6121 §5.2.2 message type; default `chat`. `groupchat` is for rooms (e.g. IRC channels). */
  readonly type?: 'chat' | 'groupchat' | 'normal' | 'headline';
  /** The legacy network's message id, when it has one; becomes the stanza id upstream. */
  readonly id?: string;
  readonly subject?: string;
  /** For `groupchat` upstream: the occupant's nick, sent as the resource of the room JID. */
  readonly nick?: string;
  /**
   * Optional, both ways: the local user's resource. On sendMessage() it is the resource that sent the message (the
   * full JID's resourcepart, e.g. a SIP GRUU `;gr=` in the From, RFC 7247 §6); on UpstreamSink.message() it addresses
   * that resource: the framework delivers to the full JID, and the server's RFC 6121 §8.5.3.2.1 rules apply when the
   * resource is gone (chat and normal as if sent to the bare JID). Ignored for `groupchat`.
   */
  readonly resource?: string;
  /** RFC 6121 §5.2.5 `<thread/>`, both ways (e.g. a SIP Call-ID, RFC 7572 §5). */
  readonly thread?: string;
  /** RFC 6120 §8.1.5 `xml:lang` of the message, both ways (e.g. a SIP Content-Language, RFC 7572 §5). */
  readonly lang?: string;
}

/** RFC 6121 §4.7.2.1 `<show/>` values. */
export type PresenceShow = 'away' | 'chat' | 'dnd' | 'xa';

/** Presence of a legacy contact (upstream) or of the local user (downstream, setPresence). */
export interface LegacyPresence {
  readonly available: boolean;
  readonly show?: PresenceShow;
  readonly status?: string;
}

/**
 * Presence of an occupant of a legacy group chat shown as an XEP-0045 room (e.g. an IRC channel), upstream only.
 * The framework sends it from `room@gateway/nick` to every resource of the user that joined the room, with
 * `<x xmlns='http://jabber.org/protocol/muc#user'><item/>…</x>` (XEP-0045 §7.2.3).
 */
export interface LegacyOccupant {
  readonly nick: string;
  readonly available: boolean;
  readonly show?: PresenceShow;
  readonly status?: string;
  /** XEP-0045 §5.1 role; default `participant` (`none` when unavailable). */
  readonly role?: 'moderator' | 'participant' | 'visitor' | 'none';
  /** XEP-0045 §5.2 affiliation; default `none`. */
  readonly affiliation?: 'owner' | 'admin' | 'member' | 'none' | 'outcast';
  /** XEP-0045 §7.6: on the unavailable presence with status 303, the occupant's new nick (`<item nick=…/>`). */
  readonly newNick?: string;
  /**
   * XEP-0045 §15.6 status codes: 110 (this is the user), 201, 210 (the service changed the nick), 303 (nick
   * change), 307 (kicked), 332 (service shut down) …
   */
  readonly codes?: readonly number[];
}

/**
 * State of the user's legacy connection, shown as the gateway's presence to the user (DESIGN §6):
 * `connecting` → available with show `xa` and status "connecting…"; `online` → available;
 * `offline` → the connection was lost: unavailable with the detail, and the framework reconnects with backoff;
 * `failed` → a permanent failure (bad credentials, banned): unavailable with the detail, no reconnect until the
 * user's next available presence or re-registration.
 */
export type LegacyState = 'connecting' | 'online' | 'offline' | 'failed';

/** Calls from a driver towards the XMPP side; bound to one user's login. Safe to call at any time after login. */
export interface UpstreamSink {
  /** XEP-0100 §5.3: a message from a legacy contact, routed from the contact's JID to the user's bare JID. */
  message(from: LegacyId, m: LegacyMessage): void;
  /** A legacy contact's presence; routed as presence from the contact's JID to the user's bare JID. */
  presence(from: LegacyId, p: LegacyPresence): void;
  /**
   * XEP-0100 §5.1: a legacy contact wants to be in the user's roster: `subscribe` from the contact JID, with the nick
   * (XEP-0172). The roster module handles it like any inbound subscription (RFC 6121 §3.1.3).
   */
  subscriptionRequest(from: LegacyId, nick?: string): void;
  /**
   * Optional: a legacy contact refused or ended the user's subscription to it (RFC 6121 §3.2: `unsubscribed` from the
   * contact JID). Sinks without it leave it undefined.
   */
  unsubscribed?(from: LegacyId): void;
  /**
   * Optional, for networks that answer each message (a SIP MESSAGE's final response, RFC 7247 §7.1): like message(),
   * and resolves once the XMPP side has taken or refused it — with null when the user's server took it (delivered or
   * stored: XMPP has no delivery receipt), or with the error it answered (a bounce to the contact JID carrying the
   * message's id, RFC 6120 §8.3.1). Never rejects. `waitMs`: how long to wait, after the server took the message,
   * for an error from the recipient's own client (default 0); `deadlineMs`: at most this long for the server to
   * take or refuse it, after which it counts as taken (default 5000).
   */
  messageOutcome?(
    from: LegacyId,
    m: LegacyMessage,
    opts?: { waitMs?: number; deadlineMs?: number },
  ): Promise<MessageRefusal | null>;
  /** The legacy connection changed state; `detail` becomes the gateway presence's status text. */
  state(s: LegacyState, detail?: string): void;
  /**
   * Optional, for drivers with rooms: an occupant's presence in `room` (XEP-0045 §7.2.3, §7.6, §7.14). Room
   * messages go through message() with type `groupchat` and the occupant's `nick`; the subject is a groupchat
   * message with `subject` and an empty body (XEP-0045 §7.2.15). Sinks without room support leave it undefined.
   */
  occupant?(room: LegacyId, o: LegacyOccupant): void;
}

/** The XMPP side's answer to a message from a legacy contact (UpstreamSink.messageOutcome). */
export interface MessageRefusal {
  readonly error: StanzaError;
  /**
   * Whether the error came from one resource (a full JID: the recipient's client) rather than from the account or
   * its server (RFC 7247 §7.1 notes 1 and 2 choose between 4xx and 6xx codes by it).
   */
  readonly fromResource: boolean;
}

/** One user's logged-in legacy connection, returned by GatewayDriver.login(). */
export interface LegacySession {
  /**
   * Sends a message to a legacy contact. The framework calls it serially per (user, peer) — the next call waits
   * for the previous promise — so a driver need not order messages itself. A rejection is reported to the user
   * as an error reply to that message (a LegacyError's condition, else `recipient-unavailable`).
   */
  sendMessage(to: LegacyId, m: LegacyMessage): Promise<void>;
  /**
   * The user's aggregate presence changed (XEP-0100 §4.4: the gateway mirrors it on the legacy network): the
   * presence of the resource that sent the gateway presence most recently among those still available.
   */
  setPresence(p: LegacyPresence): Promise<void>;
  /**
   * Optional, for networks that show each XMPP resource (e.g. one PIDF tuple per resource, RFC 8048 §4): the
   * presence one resource sent the gateway, or null when that resource went unavailable while others stay (after
   * the last one the framework calls logout() instead). After login every available resource is reported once.
   * The framework calls it synchronously right before setPresence() for the same change, so a driver should only
   * record the value here and act (notify, publish) in setPresence(), which always follows.
   */
  setResourcePresence?(resource: string, p: LegacyPresence | null): Promise<void>;
  /** XEP-0100 §4.6: the user added a legacy contact (subscribe). Without it the framework approves locally. */
  subscribe?(id: LegacyId): Promise<void>;
  /** XEP-0100 §4.7: the user removed a legacy contact (unsubscribe). */
  unsubscribe?(id: LegacyId): Promise<void>;
  /**
   * Optional: the user probed a contact (RFC 6121 §4.3). The framework answers at once from its cache; a driver that
   * can ask the legacy network (a SIP fetch, RFC 8048 §5) reports what it learns through sink.presence().
   */
  probe?(id: LegacyId): Promise<void>;
  /**
   * Optional: the user answered a contact's subscription request (XEP-0100 §5.1, `subscribed` or `unsubscribed` to
   * the contact JID), or revoked an earlier approval with `unsubscribed`.
   */
  subscriptionAnswer?(id: LegacyId, approved: boolean): Promise<void>;
  /** XEP-0100 §4.5: logs out and releases the connection. Called once; must not call the sink afterwards. */
  logout(reason?: string): Promise<void>;
  /**
   * Optional, for drivers with rooms: XEP-0045 §7.2 the user entered `room` (presence to `room@gateway/nick`).
   * Report the occupants and then the user's own presence (status 110, and 210 if the nick was changed) through
   * sink.occupant() before resolving; reject with a LegacyError to refuse the entry (a presence error follows).
   */
  joinRoom?(room: LegacyId, nick: string, password?: string): Promise<void>;
  /** Optional: XEP-0045 §7.14 the user left `room` (unavailable presence to the occupant JID). */
  leaveRoom?(room: LegacyId, status?: string): Promise<void>;
}

/**
 * The driver proper: one instance per configured gateway domain, shared by every user of that gateway.
 * `Cred` is what validateRegistration() produces; it must survive a JSON round trip because it is stored.
 */
export interface GatewayDriver<Cred = unknown> {
  /** The disco identity type (XEP-0030 §3.1, category `gateway`), e.g. `irc`, `sip`. */
  readonly kind: string;
  /** Human name for the disco identity and form title, e.g. "IRC gateway". */
  readonly name?: string;
  /** XEP-0077 §3.1 `<instructions/>` shown above the registration form. */
  readonly instructions?: string;
  readonly registration: readonly RegistrationField[];
  readonly address: AddressCodec;
  /**
   * Turns a submitted registration form (field var → value; multi-valued fields joined with "\n") into
   * credentials. Throw RegistrationError (or a LegacyError) to reject the form; it becomes `not-acceptable`
   * with the message as text (XEP-0077 §3.1). May contact the legacy network; honour the timeout in `signal`.
   * Required fields and list options are checked by the framework before this is called.
   */
  validateRegistration(form: Record<string, string>, signal: AbortSignal): Promise<Cred>;
  /**
   * Connects `user` to the legacy network. Resolve once the connection is usable (the framework then shows
   * `online`); report progress and later losses through `up.state()`. Reject with a LegacyError whose
   * `permanent` is true for failures retrying cannot fix. `signal` aborts a login in progress (logout, shutdown,
   * login timeout); a driver must then stop and reject promptly.
   */
  login(user: BareJid, cred: Cred, up: UpstreamSink, signal: AbortSignal): Promise<LegacySession>;
  /** Releases shared resources (sockets, timers) when the gateway stops; sessions are logged out before. */
  close?(): Promise<void>;
}

/** Rejects a registration form; the message is shown to the user (XEP-0077 §3.1 not-acceptable). */
export class RegistrationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RegistrationError';
  }
}

/**
 * RFC 6120 §8.3.3 conditions a driver may report for a failed send or login: any of them, so that a driver can follow
 * its network's mapping table (e.g. RFC 7247 §7.2 for SIP responses).
 */
export type LegacyErrorCondition = StanzaErrorCondition;

/** A failure on the legacy side. `permanent` stops reconnect attempts (e.g. wrong password, banned). */
export class LegacyError extends Error {
  constructor(
    message: string,
    readonly condition: LegacyErrorCondition = 'recipient-unavailable',
    readonly permanent = false,
  ) {
    super(message);
    this.name = 'LegacyError';
  }
}

/** What the framework gives a driver factory: its gateway domain, validated options and a child logger. */
export interface DriverContext<Opts> {
  /** The gateway's domain, e.g. `irc.localhost`. */
  readonly domain: string;
  readonly options: Readonly<Opts>;
  /** pino child `{ gateway: domain }`; credentials must never be logged. */
  readonly log: Logger;
  /**
   * Optional: whether a local user has registered with this gateway (XEP-0077), for drivers that accept traffic for
   * users who are not logged in and must tell "not registered" from "offline". Absent in contexts without storage.
   */
  registered?(user: BareJid): Promise<boolean>;
}

/**
 * A driver as listed in gateways/registry.ts (one line per driver, DESIGN §3: no scanning). `options` is the
 * TypeBox schema of the config's `gateways.<domain>.options`; an invalid value refuses to start (DESIGN §1).
 */
export interface DriverDefinition<S extends TSchema = TSchema, Cred = unknown> {
  readonly name: string;
  readonly options: S;
  create(ctx: DriverContext<import('@sinclair/typebox').Static<S>>): GatewayDriver<Cred>;
}

/** Identity helper that keeps the options type tied to its schema. */
export const defineDriver = <S extends TSchema, Cred>(d: DriverDefinition<S, Cred>): DriverDefinition<S, Cred> => d;
