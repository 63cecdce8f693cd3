// Conversations: a raw server-to-server peer misbehaving against b.test (RFC 6120 §4.9 stream errors, XEP-0220
// dialback, XEP-0178 SASL EXTERNAL). a.test is a real Switchboard, the authoritative server b.test asks when a
// peer claims to be a.test. Every test checks what b.test answered and that its user received nothing forged.
import assert from 'node:assert/strict';
import { type ClientSession, type Element, stopAll, xml } from '../helpers/im-clients.js';
import { createPki, loginAt, startFederatedServer, syncWith, type TestPki } from '../helpers/s2s.js';
import { S2sPeer } from '../helpers/s2s-peer.js';
import { freePort, type TestServer } from '../helpers/server.js';

const A = 'a.test';
const B = 'b.test';
const NS_SASL = 'urn:ietf:params:xml:ns:xmpp-sasl';

describe('conversations: bad input from a server-to-server peer', function () {
  this.timeout(20_000);
  let pki: TestPki;
  let a: TestServer;
  let b: TestServer;
  let bob: ClientSession;
  let portB: number;
  const peers: S2sPeer[] = [];

  before(async () => {
    pki = await createPki();
    const portA = await freePort();
    portB = await freePort();
    [a, b] = await Promise.all([
      startFederatedServer({ domain: A, s2sPort: portA, pki, routes: { [B]: portB } }),
      startFederatedServer({
        domain: B,
        s2sPort: portB,
        pki,
        routes: { [A]: portA },
        s2s: [
          'policy: deny_list',
          'domains: [evil.test]',
          'rate_per_second: 2',
          'rate_burst: 3',
          'negotiation_timeout_seconds: 5',
        ],
      }),
    ]);
    bob = await loginAt(b, B, 'bob', { pki });
    await bob.send(xml('presence'));
    await syncWith(bob, B);
  });
  after(async () => {
    await stopAll([bob]);
    await Promise.all([a?.stop(), b?.stop()]);
    pki?.cleanup();
  });
  afterEach(async () => {
    for (const p of peers.splice(0)) p.destroy();
    // Nothing forged reached the user.
    await syncWith(bob, B);
    const leaked = bob.inbox.filter((el) => el.is('message') && el.getChildText('body')?.startsWith('forged'));
    bob.inbox.splice(0);
    assert.deepEqual(
      leaked.map((el) => el.toString()),
      [],
      'no forged message was delivered',
    );
  });

  async function peer(): Promise<S2sPeer> {
    const p = await S2sPeer.connect(portB);
    peers.push(p);
    return p;
  }

  /** A stream from `from` to b.test, after STARTTLS (RFC 6120 §5), presenting a certificate for `certFor`. */
  async function secured(from: string, certFor?: string): Promise<{ p: S2sPeer; features: Element }> {
    const p = await peer();
    const first = await p.open(from, B);
    assert.ok(first.getChild('starttls', 'urn:ietf:params:xml:ns:xmpp-tls')?.getChild('required'), 'TLS required');
    const cert = certFor ? await pki.issue(certFor) : undefined;
    await p.startTls({ servername: B, ...(cert ? { cert: cert.cert, key: cert.key } : {}) });
    const features = await p.open(from, B);
    return { p, features };
  }

  async function expectStreamError(p: S2sPeer, condition: string): Promise<void> {
    await p.waitClosed();
    assert.equal(p.parseError, null);
    assert.equal(p.streamError()?.condition, condition, `stream error; received ${p.text.slice(-300)}`);
    assert.ok(p.streamClosed, '</stream:stream> follows the error');
  }

  const forged = (from: string, n = 1) =>
    `<message from='${from}' to='bob@${B}' type='chat'><body>forged ${n}</body></message>`;

  it('answers a header addressed to a domain it does not serve with host-unknown', async () => {
    const p = await peer();
    await p.open('c.test', 'nowhere.test');
    await expectStreamError(p, 'host-unknown');
  });

  it('refuses a header whose from is one of its own domains with invalid-from', async () => {
    const p = await peer();
    await p.open(B, B);
    await expectStreamError(p, 'invalid-from');
  });

  it('refuses a domain denied by policy with policy-violation', async () => {
    const p = await peer();
    await p.open('evil.test', B);
    await expectStreamError(p, 'policy-violation');
  });

  it('refuses stanzas before any domain is authenticated with not-authorized', async () => {
    const { p } = await secured('c.test');
    p.send(forged('mallory@c.test'));
    await expectStreamError(p, 'not-authorized');
  });

  it('refuses dialback before TLS with a policy-violation dialback error, keeping the stream', async () => {
    const p = await peer();
    await p.open(A, B);
    const start = p.elements.length;
    p.send(`<db:result from='${A}' to='${B}'>0123</db:result>`);
    const err = await p.waitElement((el) => el.name === 'db:result', 'a dialback error', start);
    assert.equal(err.attrs.type, 'error');
    assert.ok(err.getChild('error')?.getChild('policy-violation'), err.toString());
    assert.equal(p.socketClosed, false);
  });

  it('authenticates with SASL EXTERNAL, then closes with invalid-from a stanza from another domain', async () => {
    const { p, features } = await secured('c.test', 'c.test');
    const mechs = features
      .getChild('mechanisms', NS_SASL)
      ?.getChildren('mechanism')
      .map((m) => m.getText());
    assert.deepEqual(mechs, ['EXTERNAL'], 'EXTERNAL offered for a certificate naming c.test');
    const start = p.elements.length;
    p.send(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from('c.test').toString('base64')}</auth>`);
    const outcome = await p.waitElement((el) => el.attrs.xmlns === NS_SASL, 'SASL outcome', start);
    assert.equal(outcome.name, 'success', outcome.toString());
    await p.open('c.test', B);
    p.send(`<message from='carol@c.test' to='bob@${B}' type='chat'><body>genuine</body></message>`);
    const got = await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'genuine');
    assert.equal(got.attrs.from, 'carol@c.test');
    p.send(forged(`mallory@${A}`));
    await expectStreamError(p, 'invalid-from');
  });

  it('refuses EXTERNAL with an authorization identity the certificate does not prove', async () => {
    const { p } = await secured('c.test', 'c.test');
    const start = p.elements.length;
    p.send(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>${Buffer.from(A).toString('base64')}</auth>`);
    const outcome = await p.waitElement((el) => el.attrs.xmlns === NS_SASL, 'SASL outcome', start);
    assert.equal(outcome.name, 'failure');
    assert.ok(outcome.getChild('invalid-authzid'), outcome.toString());
  });

  it('does not offer EXTERNAL without a client certificate', async () => {
    const { features } = await secured('c.test');
    assert.equal(features.getChild('mechanisms', NS_SASL), undefined);
    assert.ok(features.getChild('dialback', 'urn:xmpp:features:dialback')?.getChild('errors'), 'dialback offered');
  });

  it('rejects a forged db:result after asking the authoritative server, and closes the stream', async () => {
    const { p } = await secured(A);
    const start = p.elements.length;
    p.send(`<db:result from='${A}' to='${B}'>${'ab'.repeat(32)}</db:result>`);
    const verdict = await p.waitElement((el) => el.name === 'db:result', 'the dialback verdict', start, 10_000);
    assert.equal(verdict.attrs.type, 'invalid', verdict.toString());
    assert.equal(verdict.attrs.from, B);
    assert.equal(verdict.attrs.to, A);
    p.send(forged(`mallory@${A}`));
    await p.waitClosed();
  });

  it('ignores unsolicited dialback answers: they authenticate nothing', async () => {
    const { p } = await secured(A);
    const start = p.elements.length;
    p.send(`<db:verify from='${A}' to='${B}' id='made-up' type='valid'/>`);
    p.send(`<db:result from='${A}' to='${B}' type='valid'/>`);
    p.send(forged(`mallory@${A}`));
    await expectStreamError(p, 'not-authorized');
    const dialback = p.elements.slice(start).filter((el) => el.name.startsWith('db:'));
    assert.deepEqual(
      dialback.map((el) => el.toString()),
      [],
      'no answer to unsolicited answers',
    );
  });

  it('answers db:verify for a key it did not issue with type invalid (authoritative role)', async () => {
    const { p } = await secured('c.test');
    const start = p.elements.length;
    p.send(`<db:verify from='c.test' to='${B}' id='s1'>${'cd'.repeat(32)}</db:verify>`);
    const answer = await p.waitElement((el) => el.name === 'db:verify', 'the verification answer', start);
    assert.deepEqual(
      { from: answer.attrs.from, to: answer.attrs.to, id: answer.attrs.id, type: answer.attrs.type },
      { from: B, to: 'c.test', id: 's1', type: 'invalid' },
    );
  });

  it('answers dialback for a domain it does not serve with item-not-found, keeping the stream', async () => {
    const { p } = await secured(A);
    const start = p.elements.length;
    p.send(`<db:result from='${A}' to='nowhere.test'>${'ef'.repeat(32)}</db:result>`);
    const err = await p.waitElement((el) => el.name === 'db:result', 'a dialback error', start);
    assert.equal(err.attrs.type, 'error');
    assert.ok(err.getChild('error')?.getChild('item-not-found'), err.toString());
    assert.equal(p.socketClosed, false);
  });

  it('answers remote-server-not-found when the authoritative server cannot be reached, keeping the stream', async () => {
    const { p } = await secured('unreachable.invalid');
    const start = p.elements.length;
    p.send(`<db:result from='unreachable.invalid' to='${B}'>${'01'.repeat(32)}</db:result>`);
    const err = await p.waitElement((el) => el.name === 'db:result', 'a dialback error', start, 10_000);
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, B);
    assert.ok(err.getChild('error')?.getChild('remote-server-not-found'), err.toString());
    assert.equal(p.socketClosed, false);
    p.send(forged('mallory@unreachable.invalid'));
    await expectStreamError(p, 'not-authorized');
  });

  it('with rate_excess: delay, slows an over-rate peer down but delivers everything in order', async () => {
    const port = await freePort();
    const slow = await startFederatedServer({
      domain: B,
      s2sPort: port,
      pki,
      s2s: ['rate_per_second: 20', 'rate_burst: 2', 'rate_excess: delay'],
    });
    const carl = await loginAt(slow, B, 'carl', { pki });
    const p = await S2sPeer.connect(port);
    peers.push(p);
    try {
      await carl.send(xml('presence'));
      await syncWith(carl, B);
      await p.open('flood.test', B);
      const cert = await pki.issue('flood.test');
      await p.startTls({ servername: B, cert: cert.cert, key: cert.key });
      await p.open('flood.test', B);
      const start = p.elements.length;
      p.send(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>=</auth>`);
      await p.waitElement((el) => el.name === 'success', 'SASL success', start);
      await p.open('flood.test', B);
      const began = Date.now();
      for (let i = 0; i < 6; i++) {
        p.send(`<message from='x@flood.test' to='carl@${B}' type='chat'><body>slow ${i}</body></message>`);
      }
      for (let i = 0; i < 6; i++) {
        await carl.waitFor((el) => el.is('message') && el.getChildText('body') === `slow ${i}`);
      }
      // Two from the burst, then four at 20 a second: at least about 200 ms.
      assert.ok(Date.now() - began >= 150, `delivered over ${Date.now() - began} ms`);
    } finally {
      await carl.stop();
      await slow.stop();
    }
  });

  it('limits the stanza rate per remote domain (token bucket): the excess is not delivered', async () => {
    const { p } = await secured('flood.test', 'flood.test');
    const start = p.elements.length;
    p.send(`<auth xmlns='${NS_SASL}' mechanism='EXTERNAL'>=</auth>`);
    const outcome = await p.waitElement((el) => el.attrs.xmlns === NS_SASL, 'SASL outcome', start);
    assert.equal(outcome.name, 'success');
    await p.open('flood.test', B);
    for (let i = 0; i < 10; i++) {
      p.send(`<message from='x@flood.test' to='bob@${B}' type='chat'><body>flood ${i}</body></message>`);
    }
    await bob.waitFor((el) => el.is('message') && el.getChildText('body') === 'flood 2');
    await new Promise((r) => setTimeout(r, 300));
    const delivered = bob.inbox.filter((el) => el.is('message') && el.getChildText('body')?.startsWith('flood'));
    assert.ok(delivered.length < 7, `at most the burst and a refill got through (${delivered.length})`);
  });
});
