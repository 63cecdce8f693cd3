// XEP-0198 stream management over the raw client (spec/helpers/raw-client.ts): enabling, resuming, and the
// client's own 'h' (the stanzas it has received since <enabled/> or <resumed/>), computed from what arrived.
import assert from 'node:assert/strict';
import { type Element, RawClient } from './raw-client.js';
import type { TestServer } from './server.js';

export const NS_SM = 'urn:xmpp:sm:3';
export const NS_CSI = 'urn:xmpp:csi:0';

export const isStanza = (el: Element): boolean => el.name === 'message' || el.name === 'presence' || el.name === 'iq';
export const isSm = (name: string) => (el: Element) => el.is(name, NS_SM);
export const bodyOf = (el: Element): string | undefined => el.getChildText('body') ?? undefined;
export const isBodyMessage = (el: Element): boolean => el.is('message') && bodyOf(el) !== undefined;

/** A raw client that tracks the stanzas it received on one stream-management session. */
export class SmClient {
  /** Stanzas handled before this stream (after a resumption: the 'h' it resumed with). */
  private base = 0;
  /** Index in `c.received` of the <enabled/> or <resumed/> this stream counts from. */
  private start = -1;
  previd = '';

  constructor(readonly c: RawClient) {}

  static async login(srv: TestServer, username: string, resource?: string, noBind = false): Promise<SmClient> {
    const c = await RawClient.login({
      port: srv.port,
      username,
      password: `${username}-secret`,
      mechanism: 'PLAIN',
      ...(resource ? { resource } : {}),
      noBind,
    });
    c.socket.setNoDelay(true);
    return new SmClient(c);
  }

  /** XEP-0198 §3: <enable/>; resolves with <enabled/> (asserting it is not <failed/>). */
  async enable(resume = true, max?: number): Promise<Element> {
    const attrs = `${resume ? " resume='true'" : ''}${max === undefined ? '' : ` max='${max}'`}`;
    this.c.send(`<enable xmlns='${NS_SM}'${attrs}/>`);
    const el = await this.c.waitFor((e) => e.is('enabled', NS_SM) || e.is('failed', NS_SM));
    assert.equal(el.name, 'enabled', el.toString());
    this.start = this.c.received.indexOf(el);
    this.previd = el.attrs.id ?? '';
    return el;
  }

  /** XEP-0198 §5: <resume/> of `previd` with `h`; resolves with <resumed/> or <failed/>. */
  async resume(previd: string, h: number): Promise<Element> {
    this.c.send(`<resume xmlns='${NS_SM}' previd='${previd}' h='${h}'/>`);
    const el = await this.c.waitFor((e) => e.is('resumed', NS_SM) || e.is('failed', NS_SM));
    if (el.name === 'resumed') {
      this.start = this.c.received.indexOf(el);
      this.base = h;
      this.previd = previd;
    }
    return el;
  }

  /** The client's 'h': stanzas received since enabling, across resumptions (XEP-0198 §4). */
  get handled(): number {
    assert.ok(this.start >= 0, 'stream management is not enabled');
    return this.base + this.c.received.slice(this.start + 1).filter(isStanza).length;
  }

  /** Bodies of the messages received on this stream since enabling, in order. */
  bodies(): string[] {
    return this.c.received
      .slice(this.start + 1)
      .filter(isBodyMessage)
      .map((m) => bodyOf(m) ?? '');
  }

  /** Sends initial presence and waits for its reflection (RFC 6121 §4.2.2). */
  async available(): Promise<void> {
    this.c.send('<presence/>');
    await this.c.waitFor((el) => el.is('presence') && el.attrs.from === this.c.jid);
  }

  /** Waits until every stanza sent before has been handled by the server (an iq round trip). */
  async sync(): Promise<void> {
    const r = await this.c.iq(`<iq type='get' id='ID' to='localhost'><ping xmlns='urn:xmpp:ping'/></iq>`);
    assert.equal(r.attrs.type, 'result');
  }
}

/** `n` chat messages with bodies `${prefix}0` … in one write. */
export function burst(to: string, n: number, prefix = 'm'): { text: string; bodies: string[] } {
  const bodies = Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  return {
    text: bodies.map((b) => `<message to='${to}' type='chat' id='${b}'><body>${b}</body></message>`).join(''),
    bodies,
  };
}

/** Waits until `bodies().length` of `c`, counted from `from`, reaches `n`, then returns them. */
export async function collectBodies(c: RawClient, n: number, timeoutMs = 10_000): Promise<string[]> {
  const out: string[] = [];
  while (out.length < n) out.push(bodyOf(await c.waitFor(isBodyMessage, timeoutMs)) ?? '');
  return out;
}

/** Whether the account's first session is bound without a transport, waiting to be resumed (XEP-0198 §5). */
export function isHibernating(srv: TestServer, bareJid: string): boolean {
  const session = srv.server.sessions.resources(bareJid)[0] as { hibernating?: boolean } | undefined;
  return session?.hibernating === true;
}

/** Polls `check` every 20 ms until it holds, failing after `timeoutMs`. */
export async function eventually(check: () => boolean, what: string, timeoutMs = 5000): Promise<void> {
  const until = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
