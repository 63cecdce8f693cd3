// Conversations: XEP-0049 Private XML Storage over real TCP + TLS with @xmpp/client.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { type ClientSession, type Element, startClient, xml } from '../helpers/xmpp-client.js';

const NS_PRIVATE = 'jabber:iq:private';
const NS_BOOKMARKS = 'storage:bookmarks';
// A small namespace quota so that the limit is reachable in a test.
const YAML = 'modules:\n  private: { max_namespaces: 3 }';

const privateIq = (type: 'get' | 'set', children: Element[], to?: string) =>
  xml('iq', { type, ...(to ? { to } : {}) }, xml('query', { xmlns: NS_PRIVATE }, ...children));
const bookmarks = (...names: string[]) =>
  xml(
    'storage',
    { xmlns: NS_BOOKMARKS },
    ...names.map((n) => xml('conference', { jid: `${n}@rooms.example`, name: n, autojoin: 'true' })),
  );
const stored = (res: Element) => res.getChild('query', NS_PRIVATE)?.getChildElements() ?? [];
const condition = (expected: string) => (err: unknown) => (err as { condition?: string }).condition === expected;

describe('conversations: private XML storage (XEP-0049)', function () {
  this.timeout(20_000);
  const dataDir = mkdtempSync(join(tmpdir(), 'sb-private-'));
  let srv: TestServer;
  let alice: ClientSession;
  let bob: ClientSession;
  const login = (username: string) =>
    startClient({ port: srv.port, dataDir: srv.dataDir, username, password: `${username}-secret` });

  before(async () => {
    srv = await startTestServer({ sqlite: true, dataDir, yaml: YAML });
    for (const u of ['alice', 'bob']) await srv.addUser(u, `${u}-secret`);
    alice = await login('alice');
    bob = await login('bob');
  });
  after(async () => {
    await alice.stop();
    await bob.stop();
    await srv.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('echoes the empty element when nothing is stored (§2.3)', async () => {
    const res = await alice.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    const [el] = stored(res);
    assert.ok(el?.is('storage', NS_BOOKMARKS));
    assert.equal(el?.children.length, 0);
  });

  it('stores, returns and replaces data per namespace (§2.3)', async () => {
    await alice.request(privateIq('set', [bookmarks('tea', 'croquet')]));
    await alice.request(privateIq('set', [xml('prefs', { xmlns: 'example:prefs' }, xml('nick', null, 'Alice'))]));
    let res = await alice.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    assert.deepEqual(
      stored(res)[0]
        ?.getChildren('conference')
        .map((c) => c.attrs.name),
      ['tea', 'croquet'],
    );
    await alice.request(privateIq('set', [bookmarks('tea')]));
    res = await alice.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    assert.deepEqual(
      stored(res)[0]
        ?.getChildren('conference')
        .map((c) => c.attrs.name),
      ['tea'],
    );
    res = await alice.request(privateIq('get', [xml('prefs', { xmlns: 'example:prefs' })]));
    assert.equal(stored(res)[0]?.getChildText('nick'), 'Alice');
  });

  it("keeps each account's data apart", async () => {
    const res = await bob.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    assert.equal(stored(res)[0]?.children.length, 0);
  });

  it("forbids reading or writing another account's data (§2.3, §3)", async () => {
    await assert.rejects(
      bob.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })], 'alice@localhost')),
      condition('forbidden'),
    );
    await assert.rejects(bob.request(privateIq('set', [bookmarks('evil')], 'alice@localhost')), condition('forbidden'));
    const res = await alice.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    assert.equal(stored(res)[0]?.getChildren('conference').length, 1);
  });

  it('refuses reserved namespaces and unqualified elements with not-acceptable (§2.3)', async () => {
    for (const child of [
      xml('vCard', { xmlns: 'vcard-temp' }),
      xml('query', { xmlns: 'jabber:iq:roster' }),
      xml('query', { xmlns: NS_PRIVATE }),
      xml('prefs'),
    ]) {
      await assert.rejects(alice.request(privateIq('set', [child])), condition('not-acceptable'), child.toString());
    }
  });

  it('refuses an empty set (not-acceptable) and a get without a child or with two (bad-request) (§2.3)', async () => {
    await assert.rejects(alice.request(privateIq('set', [])), condition('not-acceptable'));
    await assert.rejects(alice.request(privateIq('get', [])), condition('bad-request'));
    await assert.rejects(
      alice.request(privateIq('get', [xml('a', { xmlns: 'x:a' }), xml('b', { xmlns: 'x:b' })])),
      condition('bad-request'),
    );
  });

  it('rejects data over the size limit and stores nothing', async () => {
    const big = xml('blob', { xmlns: 'example:blob' }, 'x'.repeat(140_000));
    await assert.rejects(alice.request(privateIq('set', [big])), condition('not-acceptable'));
    assert.equal(await srv.server.storage.map('private').get('localhost', 'alice', 'example:blob'), null);
  });

  it('bounds how many namespaces an account fills (resource-constraint)', async () => {
    await alice.request(privateIq('set', [xml('third', { xmlns: 'example:third' })]));
    await assert.rejects(
      alice.request(privateIq('set', [xml('fourth', { xmlns: 'example:fourth' })])),
      condition('resource-constraint'),
    );
    // Replacing a namespace already stored is still allowed at the limit.
    await alice.request(privateIq('set', [xml('third', { xmlns: 'example:third' }, 'again')]));
  });

  it('keeps private data across a restart (SQLite)', async () => {
    await alice.stop();
    await bob.stop();
    await srv.stop();
    srv = await startTestServer({ sqlite: true, dataDir, yaml: YAML });
    alice = await login('alice');
    bob = await login('bob');
    const res = await alice.request(privateIq('get', [xml('storage', { xmlns: NS_BOOKMARKS })]));
    assert.deepEqual(
      stored(res)[0]
        ?.getChildren('conference')
        .map((c) => c.attrs.jid),
      ['tea@rooms.example'],
    );
  });
});
