// Conversations: federation between two Switchboard servers in one process (RFC 6120 server-to-server streams),
// a.test and b.test, each with an s2s listener on loopback and a static route to the other. Users on each side
// are real @xmpp/client sessions. Authentication once with SASL EXTERNAL (RFC 6120 §6.4, XEP-0178; certificates
// from a private CA, dialback turned off so that nothing else can succeed) and once with Server Dialback only
// (XEP-0220; self-signed certificates that do not validate, EXTERNAL turned off). Then the failure paths.
import assert from 'node:assert/strict';
import { createServer, type Server as NetServer, type Socket } from 'node:net';
import {
  bare,
  type ClientSession,
  type Element,
  expectPresence,
  isPresence,
  rosterGet,
  stopAll,
  xml,
} from '../helpers/im-clients.js';
import { stanzaErrorCondition } from '../helpers/raw-stream.js';
import { createPki, loginAt, startFederatedServer, syncWith, type TestPki } from '../helpers/s2s.js';
import { freePort, startTestServer, type TestServer } from '../helpers/server.js';

const A = 'a.test';
const B = 'b.test';
const isMessageFrom = (from: string, body?: string) => (el: Element) =>
  el.is('message') &&
  el.attrs.from?.startsWith(from) === true &&
  (body === undefined || el.getChildText('body') === body);

async function chat(from: ClientSession, to: ClientSession, body: string): Promise<Element> {
  await from.send(xml('message', { to: to.jid, type: 'chat' }, xml('body', {}, body)));
  return to.waitFor(isMessageFrom(from.jid, body), 8000);
}

/** The error bounced back to `c` for a message it sent to `to`. */
async function bounced(c: ClientSession, to: string, timeoutMs = 8000): Promise<Element> {
  const id = `m${Math.random().toString(36).slice(2)}`;
  await c.send(xml('message', { to, id, type: 'chat' }, xml('body', {}, 'hello?')));
  return c.waitFor((el) => el.is('message') && el.attrs.id === id && el.attrs.type === 'error', timeoutMs);
}

/** The shared conversation checks, run over whichever authentication method the servers negotiated. */
function conversations(ctx: () => { a: TestServer; b: TestServer; pki?: TestPki }) {
  let alice: ClientSession;
  let bob: ClientSession;
  let n = 0;

  beforeEach(async () => {
    n++;
    const { a, b, pki } = ctx();
    [alice, bob] = await Promise.all([
      loginAt(a, A, `alice${n}`, pki ? { pki } : {}),
      loginAt(b, B, `bob${n}`, pki ? { pki } : {}),
    ]);
    await Promise.all([alice.send(xml('presence')), bob.send(xml('presence'))]);
  });
  afterEach(() => stopAll([alice, bob]));

  it('delivers messages both ways, in order', async () => {
    await chat(alice, bob, 'hello from a');
    await chat(bob, alice, 'hello from b');
    for (let i = 0; i < 5; i++)
      await alice.send(xml('message', { to: bob.jid, type: 'chat' }, xml('body', {}, `#${i}`)));
    for (let i = 0; i < 5; i++) await bob.waitFor(isMessageFrom(alice.jid, `#${i}`), 8000);
  });

  it('answers iq across: ping, software version and disco#info of the remote server', async () => {
    const ping = await alice.request(xml('iq', { type: 'get', to: B }, xml('ping', { xmlns: 'urn:xmpp:ping' })), 8000);
    assert.equal(ping.attrs.type, 'result');
    assert.equal(ping.attrs.from, B);
    const version = await bob.request(xml('iq', { type: 'get', to: A }, xml('query', { xmlns: 'jabber:iq:version' })));
    assert.equal(version.getChild('query')?.getChildText('name'), 'Switchboard');
    const info = await alice.request(
      xml('iq', { type: 'get', to: B }, xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' })),
    );
    const features =
      info
        .getChild('query')
        ?.getChildren('feature')
        .map((f) => f.attrs.var) ?? [];
    assert.ok(features.includes('urn:xmpp:ping'), `disco#info of ${B}: ${features.join(' ')}`);
  });

  it('carries a presence subscription across and then presence updates (RFC 6121 §3, §4)', async () => {
    await Promise.all([rosterGet(alice), rosterGet(bob)]);
    await alice.send(xml('presence', { type: 'subscribe', to: bare(bob) }));
    await bob.waitFor(
      (el) => el.is('presence') && el.attrs.type === 'subscribe' && el.attrs.from === bare(alice),
      8000,
    );
    await bob.send(xml('presence', { type: 'subscribed', to: bare(alice) }));
    await alice.waitFor(
      (el) => el.is('presence') && el.attrs.type === 'subscribed' && el.attrs.from === bare(bob),
      8000,
    );
    // RFC 6121 §4.3.2: once subscribed, the contact's server sends its current presence.
    await expectPresence(alice, bob.jid, undefined, 8000);
    await bob.send(xml('presence', {}, xml('show', {}, 'away')));
    const away = await alice.waitFor((el) => isPresence(bob.jid)(el) && el.getChildText('show') === 'away', 8000);
    assert.equal(away.attrs.to?.split('/')[0], bare(alice));
  });
}

describe('conversations: federation between two servers (RFC 6120, XEP-0178, XEP-0220)', function () {
  this.timeout(30_000);

  describe('authenticated with SASL EXTERNAL (certificates from a trusted CA, dialback off)', () => {
    let pki: TestPki;
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      pki = await createPki();
      const [portA, portB] = [await freePort(), await freePort()];
      const common = { pki, s2s: ['dialback: false', 'require_valid_certificates: true'] };
      [a, b] = await Promise.all([
        startFederatedServer({ ...common, domain: A, s2sPort: portA, routes: { [B]: portB } }),
        startFederatedServer({ ...common, domain: B, s2sPort: portB, routes: { [A]: portA } }),
      ]);
    });
    after(async () => {
      await Promise.all([a?.stop(), b?.stop()]);
      pki?.cleanup();
    });
    conversations(() => ({ a, b, pki }));
  });

  describe('authenticated with Server Dialback (self-signed certificates, EXTERNAL off)', () => {
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      const [portA, portB] = [await freePort(), await freePort()];
      const s2s = ['sasl_external: false'];
      [a, b] = await Promise.all([
        startFederatedServer({ domain: A, s2sPort: portA, routes: { [B]: portB }, s2s }),
        startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA }, s2s }),
      ]);
    });
    after(() => Promise.all([a?.stop(), b?.stop()]));
    conversations(() => ({ a, b }));
  });

  describe('over direct TLS (XEP-0368) with dialback', () => {
    let a: TestServer;
    let b: TestServer;
    before(async () => {
      const [portA, portB] = [await freePort(), await freePort()];
      [a, b] = await Promise.all([
        startFederatedServer({
          domain: A,
          s2sPort: portA,
          listenerTls: 'direct',
          routes: { [B]: { port: portB, directTls: true } },
        }),
        startFederatedServer({
          domain: B,
          s2sPort: portB,
          listenerTls: 'direct',
          routes: { [A]: { port: portA, directTls: true } },
        }),
      ]);
    });
    after(() => Promise.all([a?.stop(), b?.stop()]));

    it('delivers messages both ways', async () => {
      const [alice, bob] = await Promise.all([loginAt(a, A, 'alice'), loginAt(b, B, 'bob')]);
      try {
        await chat(alice, bob, 'direct');
        await chat(bob, alice, 'direct back');
      } finally {
        await stopAll([alice, bob]);
      }
    });
  });

  describe('self-signed certificates', () => {
    const servers: TestServer[] = [];
    afterEach(() => Promise.all(servers.splice(0).map((s) => s.stop())));

    async function pair(s2s: string[]): Promise<[TestServer, TestServer]> {
      const [portA, portB] = [await freePort(), await freePort()];
      const both = await Promise.all([
        startFederatedServer({ domain: A, s2sPort: portA, routes: { [B]: portB }, s2s }),
        startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA }, s2s }),
      ]);
      servers.push(...both);
      return both;
    }

    it('count as valid for SASL EXTERNAL with allow_self_signed (dialback off)', async () => {
      const [a, b] = await pair(['allow_self_signed: true', 'require_valid_certificates: true', 'dialback: false']);
      const [alice, bob] = await Promise.all([loginAt(a, A, 'alice'), loginAt(b, B, 'bob')]);
      try {
        await chat(alice, bob, 'self-signed but allowed');
        await chat(bob, alice, 'and back');
      } finally {
        await stopAll([alice, bob]);
      }
    });

    it('are refused with require_valid_certificates: the stanza bounces', async () => {
      const [a] = await pair(['require_valid_certificates: true']);
      const alice = await loginAt(a, A, 'alice');
      try {
        const err = await bounced(alice, `bob@${B}`);
        assert.equal(stanzaErrorCondition(err), 'remote-server-not-found');
        assert.match(err.getChild('error')?.getChildText('text') ?? '', /certificate/);
      } finally {
        await alice.stop();
      }
    });
  });

  describe('failures', () => {
    const servers: TestServer[] = [];
    const clients: ClientSession[] = [];
    const raw: NetServer[] = [];
    afterEach(async () => {
      await stopAll(clients.splice(0));
      await Promise.all(servers.splice(0).map((s) => s.stop()));
      for (const s of raw.splice(0)) s.close();
    });

    async function aliceOn(s2s: string[], routes: Record<string, number> = {}): Promise<ClientSession> {
      const a = await startFederatedServer({ domain: A, s2sPort: await freePort(), routes, s2s });
      servers.push(a);
      const alice = await loginAt(a, A, 'alice');
      clients.push(alice);
      return alice;
    }

    it('bounces remote-server-not-found at once when nothing listens at the peer', async () => {
      const alice = await aliceOn([], { [B]: await freePort() });
      const started = Date.now();
      const err = await bounced(alice, `bob@${B}`);
      assert.equal(stanzaErrorCondition(err), 'remote-server-not-found');
      assert.equal(err.attrs.from, `bob@${B}`);
      assert.ok(Date.now() - started < 3000, 'a refused connection is not waited for');
    });

    it('bounces remote-server-timeout when the peer accepts but never answers', async () => {
      const sockets: Socket[] = [];
      const silent = createServer((s) => sockets.push(s));
      raw.push(silent);
      await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
      const port = (silent.address() as { port: number }).port;
      const alice = await aliceOn(['negotiation_timeout_seconds: 1'], { [B]: port });
      const started = Date.now();
      const err = await bounced(alice, `bob@${B}`);
      assert.equal(stanzaErrorCondition(err), 'remote-server-timeout');
      assert.ok(Date.now() - started < 4000, `within the configured timeout (${Date.now() - started} ms)`);
      for (const s of sockets) s.destroy();
    });

    it('bounces remote-server-not-found for a domain that does not exist in DNS', async () => {
      const alice = await aliceOn(['dns_timeout_seconds: 2']);
      const err = await bounced(alice, 'nobody@nonexistent.invalid', 10_000);
      assert.equal(stanzaErrorCondition(err), 'remote-server-not-found');
    });

    it('bounces not-allowed when the policy denies the remote domain', async () => {
      const alice = await aliceOn(['policy: deny_list', `domains: [${B}]`], { [B]: await freePort() });
      const err = await bounced(alice, `bob@${B}`);
      assert.equal(stanzaErrorCondition(err), 'not-allowed');
      const other = await bounced(alice, `carol@c.test`);
      assert.notEqual(stanzaErrorCondition(other), 'not-allowed', 'other domains are not denied');
    });

    it('bounces not-allowed for a domain outside an allow list (per host)', async () => {
      const alice = await aliceOn(['per_host:', `  ${A}: { policy: allow_list, domains: [c.test] }`], {
        [B]: await freePort(),
      });
      const err = await bounced(alice, `bob@${B}`);
      assert.equal(stanzaErrorCondition(err), 'not-allowed');
    });

    it('reconnects when the peer restarts mid-conversation', async () => {
      const [portA, portB] = [await freePort(), await freePort()];
      const a = await startFederatedServer({ domain: A, s2sPort: portA, routes: { [B]: portB } });
      servers.push(a);
      let b = await startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA } });
      const alice = await loginAt(a, A, 'alice');
      clients.push(alice);
      let bob = await loginAt(b, B, 'bob');
      await bob.send(xml('presence'));
      await chat(alice, bob, 'before the restart');
      await chat(bob, alice, 'reply before');
      await bob.stop();
      const dataDir = b.dataDir;
      await b.server.stop();
      b = await startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA }, dataDir });
      servers.push(b);
      bob = await loginAt(b, B, 'bob');
      clients.push(bob);
      await bob.send(xml('presence'));
      await syncWith(bob, B);
      await chat(alice, bob, 'after the restart');
      await chat(bob, alice, 'reply after');
    });
  });

  it('closes idle streams and opens a new one for the next stanza', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const s2s = ['idle_timeout_seconds: 1'];
    const [a, b] = await Promise.all([
      startFederatedServer({ domain: A, s2sPort: portA, routes: { [B]: portB }, s2s }),
      startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA }, s2s }),
    ]);
    const [alice, bob] = await Promise.all([loginAt(a, A, 'alice'), loginAt(b, B, 'bob')]);
    const open = async (srv: TestServer, type: string) =>
      (await srv.server.metrics.sessions.get()).values.find((v) => v.labels.type === type)?.value;
    try {
      await chat(alice, bob, 'first');
      assert.equal(await open(a, 's2s_out'), 1);
      assert.equal(await open(b, 's2s_in'), 1);
      // idle_timeout_seconds: 1, then the closing handshake; polled, as a loaded machine may take longer.
      const deadline = Date.now() + 10_000;
      while (((await open(a, 's2s_out')) !== 0 || (await open(b, 's2s_in')) !== 0) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(await open(a, 's2s_out'), 0, 'the outbound stream was closed when idle');
      assert.equal(await open(b, 's2s_in'), 0);
      await chat(alice, bob, 'second');
    } finally {
      await stopAll([alice, bob]);
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('multiplexes a second local domain on the stream already open to the remote server (XEP-0220 §2.6.1)', async () => {
    const [portA, portB] = [await freePort(), await freePort()];
    const A2 = 'a2.test';
    const [a, b] = await Promise.all([
      startFederatedServer({ domain: A, moreDomains: [A2], s2sPort: portA, routes: { [B]: portB } }),
      startFederatedServer({ domain: B, s2sPort: portB, routes: { [A]: portA, [A2]: portA } }),
    ]);
    const [alice, ann, bob] = await Promise.all([loginAt(a, A, 'alice'), loginAt(a, A2, 'ann'), loginAt(b, B, 'bob')]);
    const open = async (srv: TestServer, type: string) =>
      (await srv.server.metrics.sessions.get()).values.find((v) => v.labels.type === type)?.value;
    try {
      await chat(alice, bob, 'from a.test');
      await chat(ann, bob, 'from a2.test');
      await chat(alice, bob, 'a.test again');
      assert.equal(await open(a, 's2s_out'), 1, 'one outbound stream carries both senders');
      assert.equal(await open(b, 's2s_in'), 1);
    } finally {
      await stopAll([alice, ann, bob]);
      await Promise.all([a.stop(), b.stop()]);
    }
  });

  it('keeps federation off when s2s.enabled is false: remote-server-not-found', async () => {
    const srv = await startTestServer({ hostsYaml: `hosts:\n  ${A}: {}`, yaml: 's2s:\n  enabled: false' });
    const alice = await loginAt(srv, A, 'alice');
    try {
      const err = await bounced(alice, `bob@${B}`);
      assert.equal(stanzaErrorCondition(err), 'remote-server-not-found');
    } finally {
      await alice.stop();
      await srv.stop();
    }
  });
});
