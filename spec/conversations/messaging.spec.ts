// Conversations: message delivery between local users over real sockets (RFC 6121 §8.5).
import assert from 'node:assert/strict';
import { NS_STANZAS, RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const isMessage = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;
const errorCondition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS && c.name !== 'text')?.name;

describe('conversations: messaging', function () {
  this.timeout(20_000);
  let srv: TestServer;
  let alice: ClientSession;
  let bob: ClientSession;

  before(async () => {
    srv = await startTestServer();
    await srv.addUser('alice', 'alice-secret');
    await srv.addUser('bob', 'bob-secret');
    await srv.addUser('carol', 'carol-secret');
    const base = { port: srv.port, dataDir: srv.dataDir };
    alice = await startClient({ ...base, username: 'alice', password: 'alice-secret', resource: 'home' });
    bob = await startClient({ ...base, username: 'bob', password: 'bob-secret', resource: 'work' });
    // RFC 6121 §8.5.2.1.1: a bare JID reaches available resources only, so both send initial presence.
    for (const c of [alice, bob]) {
      await c.send(xml('presence'));
      await c.waitFor((el) => el.is('presence') && el.attrs.from === c.jid);
    }
  });
  after(async () => {
    await alice?.stop();
    await bob?.stop();
    await srv.stop();
  });

  it('delivers a chat message to a bare JID, stamped with the sender full JID (RFC 6120 §8.1.2.1)', async () => {
    await alice.send(xml('message', { to: 'bob@localhost', type: 'chat', id: 'a1' }, xml('body', {}, 'hello bob')));
    const got = await bob.waitFor(isMessage('hello bob'));
    assert.equal(got.attrs.from, 'alice@localhost/home');
    assert.equal(got.attrs.to, 'bob@localhost');
    assert.equal(got.attrs.id, 'a1');
    assert.equal(got.attrs.type, 'chat');
  });

  it('delivers the other way, to a full JID', async () => {
    await bob.send(xml('message', { to: 'alice@localhost/home', type: 'chat' }, xml('body', {}, 'hi alice')));
    const got = await alice.waitFor(isMessage('hi alice'));
    assert.equal(got.attrs.from, 'bob@localhost/work');
    assert.equal(got.attrs.to, 'alice@localhost/home');
  });

  it('delivers bare-JID messages from bob to alice and full-JID messages from alice to bob', async () => {
    await bob.send(xml('message', { to: 'alice@localhost', type: 'normal' }, xml('body', {}, 'bare to alice')));
    await alice.send(xml('message', { to: 'bob@localhost/work' }, xml('body', {}, 'full to bob')));
    assert.equal((await alice.waitFor(isMessage('bare to alice'))).attrs.from, 'bob@localhost/work');
    assert.equal((await bob.waitFor(isMessage('full to bob'))).attrs.from, 'alice@localhost/home');
  });

  it('keeps the order of many messages from one sender (RFC 6120 §10.1)', async () => {
    const seen: string[] = [];
    const record = (el: Element) => {
      const body = el.getChildText('body');
      if (el.is('message') && body?.startsWith('n')) seen.push(body);
    };
    bob.xmpp.on('stanza', record);
    try {
      for (let i = 0; i < 50; i++)
        await alice.send(xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', {}, `n${i}`)));
      await bob.waitFor(isMessage('n49'));
      assert.deepEqual(
        seen,
        Array.from({ length: 50 }, (_, i) => `n${i}`),
      );
    } finally {
      bob.xmpp.removeListener('stanza', record);
      bob.inbox.splice(0);
    }
  });

  it('bounces a message to a user that does not exist with service-unavailable (RFC 6121 §8.5.1)', async () => {
    await alice.send(xml('message', { to: 'nobody@localhost', type: 'chat', id: 'x1' }, xml('body', {}, 'anyone?')));
    const err = await alice.waitFor((el) => el.is('message') && el.attrs.id === 'x1');
    assert.equal(err.attrs.type, 'error');
    assert.equal(err.attrs.from, 'nobody@localhost');
    assert.equal(errorCondition(err), 'service-unavailable');
  });

  it('never answers an error message with an error (RFC 6120 §8.3.1)', async () => {
    await alice.send(
      xml(
        'message',
        { to: 'nobody@localhost', type: 'error', id: 'x3' },
        xml('error', { type: 'cancel' }, xml('gone', { xmlns: NS_STANZAS })),
      ),
    );
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(alice.inbox.filter((el) => el.attrs.id === 'x3').length, 0);
  });

  describe('to the full JID of a resource that is not connected (RFC 6121 §8.5.3.2.1)', () => {
    it('delivers a chat message as if sent to the bare JID', async () => {
      await alice.send(
        xml('message', { to: 'bob@localhost/gone', type: 'chat' }, xml('body', {}, 'to a gone resource')),
      );
      const got = await bob.waitFor(isMessage('to a gone resource'));
      assert.equal(got.attrs.from, 'alice@localhost/home');
    });

    it('delivers a normal message as if sent to the bare JID', async () => {
      await alice.send(xml('message', { to: 'bob@localhost/gone' }, xml('body', {}, 'normal to a gone resource')));
      await bob.waitFor(isMessage('normal to a gone resource'));
    });

    it('silently drops a headline message', async () => {
      await alice.send(
        xml('message', { to: 'bob@localhost/gone', type: 'headline', id: 'h1' }, xml('body', {}, 'headline')),
      );
      await new Promise((r) => setTimeout(r, 300));
      assert.equal(bob.inbox.filter(isMessage('headline')).length, 0);
      assert.equal(alice.inbox.filter((el) => el.attrs.id === 'h1').length, 0);
    });

    it('bounces a groupchat message with service-unavailable', async () => {
      await alice.send(
        xml('message', { to: 'bob@localhost/gone', type: 'groupchat', id: 'g1' }, xml('body', {}, 'gc')),
      );
      const err = await alice.waitFor((el) => el.is('message') && el.attrs.id === 'g1');
      assert.equal(errorCondition(err), 'service-unavailable');
    });

    it('stores a chat message for an account with no resource at all, as for its bare JID (XEP-0160)', async () => {
      await alice.send(
        xml('message', { to: 'carol@localhost/phone', type: 'chat', id: 'c1' }, xml('body', {}, 'kept')),
      );
      await new Promise((r) => setTimeout(r, 200));
      assert.equal(alice.inbox.filter((el) => el.attrs.id === 'c1').length, 0, 'not bounced');
      const carol = await RawClient.login({
        port: srv.port,
        username: 'carol',
        password: 'carol-secret',
        resource: 'phone',
      });
      try {
        carol.send('<presence/>');
        const got = await carol.waitFor(isMessage('kept'));
        assert.equal(got.attrs.from, 'alice@localhost/home');
      } finally {
        await carol.close();
      }
    });

    it('delivers a chat message for a resource that has just disconnected to the remaining one', async () => {
      const base = { port: srv.port, username: 'carol', password: 'carol-secret' };
      const keep = await RawClient.login({ ...base, resource: 'keep' });
      const leave = await RawClient.login({ ...base, resource: 'leave' });
      try {
        keep.send('<presence/>');
        leave.send('<presence/>');
        await keep.waitFor((el) => el.is('presence') && el.attrs.from === 'carol@localhost/keep');
        await leave.close();
        // Give the server a moment to unbind the closed session.
        await new Promise((r) => setTimeout(r, 100));
        await alice.send(xml('message', { to: 'carol@localhost/leave', type: 'chat' }, xml('body', {}, 'after leave')));
        const got = await keep.waitFor(isMessage('after leave'));
        assert.equal(got.attrs.to, 'carol@localhost/leave');
      } finally {
        await keep.close();
      }
    });
  });

  describe('on a host without offline storage', () => {
    let bare: TestServer;
    let dan: RawClient;
    before(async () => {
      // Only the core modules (message, presence, iq …) are loaded: nothing takes messages for offline users.
      bare = await startTestServer({ hostsYaml: 'hosts:\n  localhost: { modules: [] }' });
      await bare.addUser('dan', 'dan-secret');
      await bare.addUser('erin', 'erin-secret');
      dan = await RawClient.login({ port: bare.port, username: 'dan', password: 'dan-secret', resource: 'r' });
    });
    after(async () => {
      await dan?.close();
      await bare?.stop();
    });

    it('bounces a message to an offline user with service-unavailable (RFC 6121 §8.5.2.2)', async () => {
      dan.send("<message to='erin@localhost' type='chat' id='o1'><body>erin?</body></message>");
      const err = await dan.waitFor((el) => el.is('message') && el.attrs.id === 'o1');
      assert.equal(err.attrs.type, 'error');
      assert.equal(err.attrs.from, 'erin@localhost');
      assert.equal(errorCondition(err), 'service-unavailable');
    });

    it('bounces a chat message to a full JID of an account with no resource (RFC 6121 §8.5.3.2.1)', async () => {
      dan.send("<message to='erin@localhost/phone' type='chat' id='o2'><body>hi</body></message>");
      const err = await dan.waitFor((el) => el.is('message') && el.attrs.id === 'o2');
      assert.equal(errorCondition(err), 'service-unavailable');
    });

    it('bounces a message to a bound resource that has sent no presence (RFC 6121 §8.5.2.1.1)', async () => {
      const erin = await RawClient.login({
        port: bare.port,
        username: 'erin',
        password: 'erin-secret',
        resource: 'quiet',
      });
      try {
        dan.send("<message to='erin@localhost' type='chat' id='o3'><body>hello?</body></message>");
        const err = await dan.waitFor((el) => el.is('message') && el.attrs.id === 'o3');
        assert.equal(errorCondition(err), 'service-unavailable');
        // A full JID still reaches the connected resource (RFC 6121 §8.5.3.1).
        dan.send("<message to='erin@localhost/quiet' type='chat' id='o4'><body>direct</body></message>");
        assert.equal((await erin.waitFor((el) => el.is('message'))).getChildText('body'), 'direct');
      } finally {
        await erin.close();
      }
    });
  });
});
