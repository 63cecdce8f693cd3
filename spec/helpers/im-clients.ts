// IM conversation helpers over real @xmpp/client sessions: logins, roster requests, and predicates for the roster
// pushes (RFC 6121 §2.1.6) and presence stanzas (RFC 6121 §3, §4) the conversation specs check one by one.
import assert from 'node:assert/strict';
import type { TestServer } from './server.js';
import { type ClientSession, type Element, startClient, xml } from './xmpp-client.js';

export type { ClientSession, Element };
export { xml };

export const NS_ROSTER = 'jabber:iq:roster';
export const NS_STANZAS = 'urn:ietf:params:xml:ns:xmpp-stanzas';

let counter = 0;
/** A username no other test uses, so that tests sharing a server never see each other's stanzas. */
export function fresh(prefix: string): string {
  counter++;
  return `${prefix}${counter}`;
}

/** Creates the accounts (password `<name>-secret`) and logs them all in at once, each with resource 'r1'. */
export async function loginAll(
  srv: TestServer,
  names: readonly string[],
  opts: { create?: boolean; resource?: string } = {},
): Promise<ClientSession[]> {
  if (opts.create !== false) await Promise.all(names.map((n) => srv.addUser(n, `${n}-secret`)));
  return Promise.all(names.map((n) => login(srv, n, opts.resource ?? 'r1')));
}

/**
 * Logs in over STARTTLS. PLAIN (inside TLS) rather than xmpp.js's default SCRAM-SHA-1: its SCRAM is pure
 * JavaScript and takes most of a second per login, which these conversation specs cannot afford by the dozen.
 */
export async function login(
  srv: TestServer,
  username: string,
  resource = 'r1',
  opts: { streamManagement?: boolean } = {},
): Promise<ClientSession> {
  const c = await startClient({
    port: srv.port,
    dataDir: srv.dataDir,
    username,
    password: `${username}-secret`,
    resource,
    mechanism: 'PLAIN',
    ...opts,
  });
  noDelay(c);
  return c;
}

/**
 * Turns Nagle's algorithm off on the client's TCP socket: a test writes several small stanzas back to back, and
 * with Nagle on, each one after the first waits for the server's delayed ACK (40 ms on Linux).
 */
function noDelay(c: ClientSession): void {
  const tlsSocket = (
    c.xmpp.socket as { socket?: { setNoDelay?(v: boolean): void; _parent?: { setNoDelay?(v: boolean): void } } } | null
  )?.socket;
  tlsSocket?.setNoDelay?.(true);
  tlsSocket?._parent?.setNoDelay?.(true);
}

export const bare = (c: ClientSession): string => c.jid.split('/')[0] ?? '';

/** RFC 6121 §2.1.3: roster get (becomes an interested resource); `ver` per §2.6. */
export function rosterGet(c: ClientSession, ver?: string): Promise<Element> {
  return c.request(
    xml('iq', { type: 'get' }, xml('query', ver === undefined ? { xmlns: NS_ROSTER } : { xmlns: NS_ROSTER, ver })),
  );
}

/** RFC 6121 §2.3: roster set of one item. */
export function rosterSet(c: ClientSession, attrs: Record<string, string>, groups: string[] = []): Promise<Element> {
  return c.request(
    xml(
      'iq',
      { type: 'set' },
      xml('query', { xmlns: NS_ROSTER }, xml('item', attrs, ...groups.map((g) => xml('group', {}, g)))),
    ),
  );
}

/** Rejects with the stanza error condition of a failed request, or throws if it succeeded. */
export async function errorOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
  } catch (err) {
    const condition = (err as { condition?: string }).condition;
    if (condition) return condition;
    throw err;
  }
  throw new Error('the request succeeded');
}

export const items = (query: Element | undefined): Element[] => query?.getChildren('item') ?? [];

/** A roster push (iq set, no 'from' or the user's bare JID) for `jid`. */
export const isPush = (jid: string) => (el: Element) =>
  el.is('iq') && el.attrs.type === 'set' && el.getChild('query', NS_ROSTER)?.getChild('item')?.attrs.jid === jid;

/** Waits for the next roster push about `jid` and checks its subscription / ask / approved (RFC 6121 §2.1.2). */
export async function expectPush(
  c: ClientSession,
  jid: string,
  want: { subscription: string; ask?: string; approved?: string; name?: string },
): Promise<Element> {
  const push = await c.waitFor(isPush(jid));
  assert.ok(
    push.attrs.from === undefined || push.attrs.from === bare(c),
    `a push comes from the account (${push.attrs.from})`,
  );
  const item = push.getChild('query', NS_ROSTER)?.getChild('item');
  assert.ok(item);
  assert.equal(item.attrs.subscription, want.subscription, `subscription in ${push.toString()}`);
  assert.equal(item.attrs.ask, want.ask, `ask in ${push.toString()}`);
  assert.equal(item.attrs.approved, want.approved, `approved in ${push.toString()}`);
  if (want.name !== undefined) assert.equal(item.attrs.name, want.name);
  return push;
}

/** A presence from `from` (exact JID) of `type` (undefined: available). */
export const isPresence = (from: string, type?: string) => (el: Element) =>
  el.is('presence') && el.attrs.from === from && el.attrs.type === type;

export function expectPresence(c: ClientSession, from: string, type?: string, timeoutMs = 3000): Promise<Element> {
  return c.waitFor(isPresence(from, type), timeoutMs);
}

/** Asserts that nothing matching `pred` has arrived after `ms` (nor is waiting in the inbox). */
export async function expectNone(
  c: ClientSession,
  pred: (el: Element) => boolean = () => true,
  ms = 150,
): Promise<void> {
  await new Promise((r) => setTimeout(r, ms));
  const hit = c.inbox.find(pred);
  assert.equal(hit?.toString(), undefined, `${c.jid} received an unexpected stanza`);
}

/** Waits until the server has processed everything `c` sent before (an iq round trip on the same stream). */
export async function sync(c: ClientSession): Promise<void> {
  await c.request(xml('iq', { type: 'get', to: 'localhost' }, xml('ping', { xmlns: 'urn:xmpp:ping' })));
}

/** Sends initial presence and waits for its reflection (RFC 6121 §4.2.2: the sender gets it too). */
export async function available(c: ClientSession, children: Element[] = []): Promise<void> {
  await c.send(xml('presence', {}, ...children));
  await c.waitFor(isPresence(c.jid));
}

/** Drops the TCP connection without closing the stream (an unclean disconnect). */
export function dropConnection(c: ClientSession): void {
  c.xmpp.reconnect.stop();
  const outer = c.xmpp.socket as { socket?: { destroy(): void } | null; destroy?: () => void } | null;
  if (outer?.socket) outer.socket.destroy();
  else outer?.destroy?.();
}

/** Stops every client, ignoring ones already gone. */
export async function stopAll(clients: Iterable<ClientSession | undefined>): Promise<void> {
  await Promise.all([...clients].map((c) => c?.stop()));
}

/**
 * Makes `a` subscribed to `b`'s presence through the protocol (subscribe, approve), consuming the stanzas this
 * produces, so that a test can start from a known state. Both must have requested their roster.
 */
export async function subscribe(a: ClientSession, b: ClientSession): Promise<void> {
  await a.send(xml('presence', { type: 'subscribe', to: bare(b) }));
  await b.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === bare(a));
  await b.send(xml('presence', { type: 'subscribed', to: bare(a) }));
  await a.waitFor((el) => el.is('presence') && el.attrs.type === 'subscribed' && el.attrs.from === bare(b));
  await sync(a);
  await sync(b);
}

/** Empties the inboxes after setup steps whose stanzas a test does not check. */
export async function settle(...clients: ClientSession[]): Promise<void> {
  await Promise.all(clients.map((c) => sync(c)));
  await new Promise((r) => setTimeout(r, 15));
  for (const c of clients) c.inbox.splice(0);
}
