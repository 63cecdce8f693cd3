// Conversations: XEP-0054 vcard-temp and XEP-0153 avatar hashes in presence, over real TCP + TLS with @xmpp/client.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const NS_VCARD = 'vcard-temp';
const NS_UPDATE = 'vcard-temp:x:update';
const NS_DISCO_INFO = 'http://jabber.org/protocol/disco#info';
const IMAGE = Buffer.from('89504e470d0a1a0a0000000d4948445200000001000000010806000000', 'hex');

const vcardGet = (to?: string) => xml('iq', { type: 'get', ...(to ? { to } : {}) }, xml('vCard', { xmlns: NS_VCARD }));
const vcardSet = (...children: Element[]) => xml('iq', { type: 'set' }, xml('vCard', { xmlns: NS_VCARD }, ...children));
const condition = (expected: string) => (err: unknown) => (err as { condition?: string }).condition === expected;

describe('conversations: vCard (XEP-0054, XEP-0153)', function () {
  this.timeout(20_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-vcard-'));
  let srv: TestServer;
  const open: ClientSession[] = [];
  const login = async (username: string, resource?: string) => {
    const c = await startClient({
      port: srv.port,
      dataDir: srv.dataDir,
      username,
      password: `${username}-secret`,
      ...(resource ? { resource } : {}),
    });
    open.push(c);
    return c;
  };

  before(async () => {
    srv = await startTestServer({ sqlite: true, dataDir });
    for (const u of ['alice', 'bob', 'carol', 'dave']) await srv.addUser(u, `${u}-secret`);
  });
  afterEach(async () => {
    for (const c of open.splice(0)) await c.stop();
  });
  after(async () => {
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('advertises vcard-temp on the server (XEP-0054 §4)', async () => {
    const alice = await login('alice');
    const res = await alice.request(
      xml('iq', { type: 'get', to: 'localhost' }, xml('query', { xmlns: NS_DISCO_INFO })),
    );
    const vars = res
      .getChild('query')
      ?.getChildren('feature')
      .map((f) => f.attrs.var);
    assert.ok(vars?.includes(NS_VCARD));
  });

  it('answers an empty vCard for one without a vCard, and for the server (XEP-0054 §3.1, §3.3)', async () => {
    const carol = await login('carol');
    const own = await carol.request(vcardGet());
    assert.equal(own.attrs.type, 'result');
    assert.equal(own.getChild('vCard', NS_VCARD)?.children.length, 0);
    const server = await carol.request(vcardGet('localhost'));
    assert.ok(server.getChild('vCard', NS_VCARD));
  });

  it('stores the own vCard and returns it to the owner and to others (XEP-0054 §3.1–§3.3)', async () => {
    const alice = await login('alice');
    const set = await alice.request(vcardSet(xml('FN', null, 'Alice Liddell'), xml('NICKNAME', null, 'alice')));
    assert.equal(set.attrs.type, 'result');
    const own = (await alice.request(vcardGet())).getChild('vCard', NS_VCARD);
    assert.equal(own?.getChildText('FN'), 'Alice Liddell');
    const bob = await login('bob');
    const res = await bob.request(vcardGet('alice@localhost'));
    assert.equal(res.attrs.from, 'alice@localhost');
    assert.equal(res.getChild('vCard', NS_VCARD)?.getChildText('NICKNAME'), 'alice');
  });

  it('answers service-unavailable alike for a user without vCard and for no such user (XEP-0054 §3.3)', async () => {
    const bob = await login('bob');
    await assert.rejects(bob.request(vcardGet('carol@localhost')), condition('service-unavailable'));
    await assert.rejects(bob.request(vcardGet('nobody@localhost')), condition('service-unavailable'));
  });

  it("refuses to set another user's vCard (XEP-0054 §3.2)", async () => {
    const bob = await login('bob');
    const iq = xml(
      'iq',
      { type: 'set', to: 'alice@localhost' },
      xml('vCard', { xmlns: NS_VCARD }, xml('FN', null, 'Mallory')),
    );
    await assert.rejects(bob.request(iq), condition('forbidden'));
    const res = await bob.request(vcardGet('alice@localhost'));
    assert.equal(res.getChild('vCard', NS_VCARD)?.getChildText('FN'), 'Alice Liddell');
  });

  it('rejects a vCard over the size limit and stores nothing', async () => {
    const dave = await login('dave');
    const big = Buffer.alloc(100_000, 7).toString('base64'); // ~133 KB of BINVAL: over the 128 KiB default
    await assert.rejects(
      dave.request(vcardSet(xml('PHOTO', null, xml('TYPE', null, 'image/png'), xml('BINVAL', null, big)))),
      condition('not-acceptable'),
    );
    assert.equal(await srv.server.storage.keyval('vcard').get('localhost', 'dave'), null);
    const own = await dave.request(vcardGet());
    assert.equal(own.getChild('vCard', NS_VCARD)?.children.length, 0);
  });

  it('adds the avatar hash to presence that lacks it and leaves a client hash alone (XEP-0153 §3.1, §4.1)', async () => {
    const alice = await login('alice', 'phone');
    const bob = await login('bob', 'desk');
    const photo = xml('PHOTO', null, xml('TYPE', null, 'image/png'), xml('BINVAL', null, IMAGE.toString('base64')));
    await alice.request(vcardSet(xml('FN', null, 'Alice Liddell'), photo));
    const expected = createHash('sha1').update(IMAGE).digest('hex');

    // Directed presence (RFC 6121 §4.6) to bob's full JID, without the update element.
    await alice.send(xml('presence', { to: bob.jid }, xml('status', null, 'hello')));
    const got = await bob.waitFor((el) => el.is('presence') && el.attrs.from === alice.jid);
    assert.equal(got.getChildText('status'), 'hello');
    assert.equal(got.getChild('x', NS_UPDATE)?.getChildText('photo'), expected);

    // A client that includes the element itself is not second-guessed.
    await alice.send(xml('presence', { to: bob.jid }, xml('x', { xmlns: NS_UPDATE }, xml('photo'))));
    const own = await bob.waitFor((el) => el.is('presence') && el.attrs.from === alice.jid);
    const updates = own.getChildren('x', NS_UPDATE);
    assert.equal(updates.length, 1);
    assert.equal(updates[0]?.getChildText('photo'), '');
  });

  it("adds the hash to the user's presence broadcast, seen by the user's other resource (XEP-0153 §4.1)", async () => {
    const a1 = await login('alice', 'one');
    const a2 = await login('alice', 'two');
    const expected = createHash('sha1').update(IMAGE).digest('hex');
    await a2.send(xml('presence'));
    await a2.waitFor((el) => el.is('presence') && el.attrs.from === a2.jid);
    await a1.send(xml('presence', null, xml('show', null, 'away')));
    const got = await a2.waitFor((el) => el.is('presence') && el.attrs.from === a1.jid);
    assert.equal(got.getChildText('show'), 'away');
    assert.equal(got.getChild('x', NS_UPDATE)?.getChildText('photo'), expected);
  });

  it('keeps vCards across a restart (SQLite)', async () => {
    await srv.stop();
    srv = await startTestServer({ sqlite: true, dataDir });
    const bob = await login('bob');
    const res = await bob.request(vcardGet('alice@localhost'));
    const card = res.getChild('vCard', NS_VCARD);
    assert.equal(card?.getChildText('FN'), 'Alice Liddell');
    assert.equal(card?.getChild('PHOTO')?.getChildText('BINVAL'), IMAGE.toString('base64'));
  });
});
