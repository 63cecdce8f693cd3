// One XMPP user's IRC presence: one connection per IRC server (the registered server at login, others when the
// user first addresses them), with presence, contacts and rooms spread over them. The registered server's
// connection is the legacy state the framework shows; losing it reports `offline` and the framework reconnects.
import type { Logger } from 'pino';
import {
  LegacyError,
  type LegacyId,
  type LegacyMessage,
  type LegacyPresence,
  type LegacySession,
  type UpstreamSink,
} from '../core/driver.js';
import { parseIrcId, userId } from './address.js';
import type { IrcConnection } from './connection.js';
import { IrcLoginError } from './registration.js';

export interface SessionDeps {
  /** The registered server: its connection is the login. */
  readonly primary: string;
  /** A new, unopened connection to `server` for this user. */
  makeConnection(server: string, up: UpstreamSink): IrcConnection;
  /** Nicks the user watches (contacts added through XEP-0100 §4.6), kept by the driver across logins. */
  readonly watched: Set<LegacyId>;
  readonly connectTimeoutMs: number;
  readonly log: Logger;
}

/** IRC's registration failures as the framework's LegacyError (`permanent` stops the reconnect loop). */
export function toLegacyError(err: unknown): LegacyError {
  if (err instanceof LegacyError) return err;
  if (err instanceof IrcLoginError) {
    const condition =
      err.reason === 'auth'
        ? 'not-authorized'
        : err.reason === 'banned'
          ? 'forbidden'
          : err.reason === 'nick'
            ? 'not-acceptable'
            : 'remote-server-not-found';
    return new LegacyError(err.message, condition, err.permanent);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new LegacyError(message, 'remote-server-not-found');
}

/** RFC 6121 §4.7.2.1 show values that mean "not at the keyboard" become IRC AWAY (RFC 2812 §4.1). */
function awayText(p: LegacyPresence): string | null {
  if (!p.available || (p.show !== 'away' && p.show !== 'xa' && p.show !== 'dnd')) return null;
  return p.status?.replace(/[\r\n\0]+/g, ' ').trim() || (p.show === 'dnd' ? 'Busy' : 'Away');
}

export class IrcSession implements LegacySession {
  private readonly conns = new Map<string, Promise<IrcConnection>>();
  private presence: LegacyPresence = { available: true };
  private ended = false;
  /** Aborts connections still being opened when the user logs out. */
  private readonly ending = new AbortController();

  private constructor(
    private readonly deps: SessionDeps,
    private readonly up: UpstreamSink,
  ) {}

  /** Logs in on the registered server; rejects (LegacyError) if that fails. */
  static async open(deps: SessionDeps, up: UpstreamSink, signal: AbortSignal): Promise<IrcSession> {
    const session = new IrcSession(deps, up);
    await session.connection(deps.primary, signal);
    return session;
  }

  private connection(server: string, signal?: AbortSignal): Promise<IrcConnection> {
    if (this.ended) return Promise.reject(new LegacyError('logged out', 'recipient-unavailable'));
    const existing = this.conns.get(server);
    if (existing) return existing;
    const conn = this.deps.makeConnection(server, this.up);
    conn.onClose = (reason) => this.lost(server, reason);
    const timeout = signal ?? AbortSignal.timeout(this.deps.connectTimeoutMs);
    const opening = conn
      .open(AbortSignal.any([timeout, this.ending.signal]))
      .then(async () => {
        const away = awayText(this.presence);
        if (away !== null) await conn.setAway(away);
        for (const id of this.deps.watched) {
          const t = parseIrcId(id);
          if (t?.kind === 'user' && t.server === server) conn.watch(t.nick);
        }
        return conn;
      })
      .catch((err: unknown) => {
        if (this.conns.get(server) === opening) this.conns.delete(server);
        throw toLegacyError(err);
      });
    this.conns.set(server, opening);
    return opening;
  }

  private lost(server: string, reason: string): void {
    this.conns.delete(server);
    if (this.ended) return;
    this.deps.log.info({ server, reason }, 'IRC connection lost');
    if (server === this.deps.primary) {
      // The framework shows it, logs this session out and logs in again with backoff (DESIGN §6).
      this.up.state('offline', `${server}: ${reason}`);
      return;
    }
    // Another server: its contacts go offline; its rooms ended in channels.closed(); it reconnects on next use.
    for (const id of this.deps.watched) {
      if (parseIrcId(id)?.server === server) this.up.presence(id, { available: false, status: reason });
    }
  }

  private target(id: LegacyId) {
    const t = parseIrcId(id);
    if (!t) throw new LegacyError(`${id} is not an IRC nick or channel`, 'item-not-found');
    return t;
  }

  async sendMessage(to: LegacyId, m: LegacyMessage): Promise<void> {
    const t = this.target(to);
    const conn = await this.connection(t.server);
    try {
      await conn.sendMessage(t, m);
    } catch (err) {
      if (err instanceof LegacyError) throw err;
      throw new LegacyError(err instanceof Error ? err.message : String(err), 'resource-constraint');
    }
  }

  async setPresence(p: LegacyPresence): Promise<void> {
    this.presence = p;
    const away = awayText(p);
    for (const pending of this.conns.values()) {
      const conn = await pending.catch(() => null);
      await conn?.setAway(away);
    }
  }

  /** XEP-0100 §4.6: a nick added to the roster is watched (USERHOST polls) for presence. */
  async subscribe(id: LegacyId): Promise<void> {
    const t = this.target(id);
    if (t.kind !== 'user') return; // a channel in the roster: its presence is the room's (XEP-0045)
    const canonical = userId(t.nick, t.server);
    this.deps.watched.add(canonical);
    const conn = await this.conns.get(t.server)?.catch(() => null);
    conn?.watch(t.nick);
  }

  async unsubscribe(id: LegacyId): Promise<void> {
    const t = this.target(id);
    if (t.kind !== 'user') return;
    this.deps.watched.delete(userId(t.nick, t.server));
    const conn = await this.conns.get(t.server)?.catch(() => null);
    conn?.unwatch(t.nick);
  }

  /** XEP-0045 §7.2 → RFC 2812 §3.2.1 JOIN (the password is the channel key). */
  async joinRoom(room: LegacyId, nick: string, password?: string): Promise<void> {
    const t = this.target(room);
    if (t.kind !== 'channel') throw new LegacyError(`${room} is not a channel`, 'item-not-found');
    const conn = await this.connection(t.server);
    await conn.channels.join(t.channel, nick, password);
  }

  /** XEP-0045 §7.14 → RFC 2812 §3.2.2 PART. */
  async leaveRoom(room: LegacyId, status?: string): Promise<void> {
    const t = this.target(room);
    if (t.kind !== 'channel') return;
    const conn = await this.conns.get(t.server)?.catch(() => null);
    await conn?.channels.part(t.channel, status?.replace(/[\r\n\0]+/g, ' '));
  }

  async logout(reason = 'logged out'): Promise<void> {
    this.ended = true;
    this.ending.abort(new LegacyError(reason, 'recipient-unavailable'));
    const conns = [...this.conns.values()];
    this.conns.clear();
    await Promise.all(conns.map(async (p) => (await p.catch(() => null))?.close(reason.replace(/[\r\n\0]+/g, ' '))));
  }
}
