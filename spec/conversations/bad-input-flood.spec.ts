// Floods: many stanzas in one write must all be answered or delivered, in order (RFC 6120 §10.1), while the
// server keeps serving everyone else.
import assert from 'node:assert/strict';
import { NS } from '../../server/xml/ns.js';
import { expectServerAlive, RawStream } from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PINGS = 10_000;
const MESSAGES = 5_000;

describe('bad input: floods', function () {
  this.timeout(60_000);
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer();
    for (const u of ['alice', 'bob', 'carol']) await ts.addUser(u, `${u}-pw`);
  });

  after(async () => {
    await ts?.stop();
  });

  it(`answers ${PINGS} pings sent in one write, all of them, in order`, async () => {
    const alice = await RawStream.login(ts.port, 'alice', 'alice-pw');
    const carol = await RawStream.login(ts.port, 'carol', 'carol-pw');
    const from = alice.elements.length;
    let flood = '';
    for (let i = 0; i < PINGS; i++) flood += `<iq type='get' id='${i}'><ping xmlns='${NS.PING}'/></iq>`;
    const started = Date.now();
    alice.send(flood);
    // Another user is still served while the flood is being worked through.
    await carol.sync(20_000);
    await alice.waitId(String(PINGS - 1), 50_000);
    const elapsed = Date.now() - started;
    const replies = alice.elements.slice(from).filter((el) => el.name === 'iq');
    assert.equal(replies.length, PINGS, 'one reply per ping');
    for (let i = 0; i < PINGS; i++) {
      const r = replies[i]!;
      if (r.attrs.id !== String(i) || r.attrs.type !== 'result') {
        assert.fail(`reply ${i} is ${r.toString()}`);
      }
    }
    assert.ok(elapsed < 50_000, `${elapsed} ms`);
    assert.equal(alice.streamError(), undefined);
    alice.close();
    carol.close();
  });

  it(`delivers ${MESSAGES} messages sent in one write to another user, all of them, in order`, async () => {
    const bob = await RawStream.login(ts.port, 'bob', 'bob-pw', { resource: 'reader', presence: true });
    const alice = await RawStream.login(ts.port, 'alice', 'alice-pw', { resource: 'writer' });
    let flood = '';
    for (let i = 0; i < MESSAGES; i++)
      flood += `<message to='bob@localhost' type='chat' id='m${i}'><body>${i}</body></message>`;
    alice.send(flood);
    await bob.waitId(`m${MESSAGES - 1}`, 50_000);
    const got = bob.elements.filter((el) => el.name === 'message' && el.attrs.id?.startsWith('m'));
    assert.equal(got.length, MESSAGES, 'every message arrived once');
    for (let i = 0; i < MESSAGES; i++) {
      const m = got[i]!;
      if (m.getChildText('body') !== String(i) || m.attrs.from !== 'alice@localhost/writer') {
        assert.fail(`message ${i} is ${m.toString()}`);
      }
    }
    // Nothing bounced back to the sender.
    await alice.sync();
    assert.equal(
      alice.find((el) => el.name === 'message'),
      undefined,
    );
    alice.close();
    bob.close();
  });

  it('drops a client that stops reading instead of buffering for it without bound', async () => {
    const bob = await RawStream.login(ts.port, 'bob', 'bob-pw', { resource: 'sleeper', presence: true });
    const alice = await RawStream.login(ts.port, 'alice', 'alice-pw', { resource: 'talker' });
    bob.socket.pause();
    const body = 'x'.repeat(150_000);
    // 200 × 150 kB: more than the kernel's socket buffers plus the server's 16 MiB cap.
    for (let i = 0; i < 200; i++)
      alice.send(`<message to='bob@localhost/sleeper' type='chat' id='big${i}'><body>${body}</body></message>`);
    const deadline = Date.now() + 30_000;
    while (ts.server.sessions.resources('bob@localhost').length > 0 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(ts.server.sessions.resources('bob@localhost').length, 0, 'the non-reading session was dropped');
    // The sender is still served.
    await alice.sync(20_000);
    alice.close();
    bob.socket.destroy();
  });

  it('still accepts logins afterwards', async () => {
    await expectServerAlive(ts.port, 'alice', 'alice-pw');
  });
});
