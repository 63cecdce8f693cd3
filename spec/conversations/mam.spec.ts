// Conversations: message archive management (XEP-0313) with stanza-ids (XEP-0359), preferences (XEP-0441) and
// RSM paging (XEP-0059), over real TCP + TLS with @xmpp/client, on SQLite so that a restart can be checked.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Jid } from '../../server/jid/index.js';
import { parseXml } from '../../server/xml/element.js';
import {
  available,
  type ClientSession,
  type Element,
  errorOf,
  login,
  rosterSet,
  settle,
  stopAll,
  sync,
  xml,
} from '../helpers/im-clients.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const NS_MAM = 'urn:xmpp:mam:2';
const NS_SID = 'urn:xmpp:sid:0';
const NS_RSM = 'http://jabber.org/protocol/rsm';
const NS_FORWARD = 'urn:xmpp:forward:0';
const NS_DATA = 'jabber:x:data';
const NS_CARBONS = 'urn:xmpp:carbons:2';
const BULK = 10_000;
/** Every thousandth bulk message has a word the full-text search looks for. */
const bulkBody = (n: number) => (n % 1000 === 7 ? `bulk ${n} needle` : `bulk ${n}`);

interface Page {
  results: Element[];
  fin: Element;
  ids: string[];
  bodies: string[];
  complete: boolean;
  first?: string;
  last?: string;
  count?: number;
}

interface QueryOptions {
  fields?: Record<string, string | string[]>;
  rsm?: { max?: number; after?: string; before?: string };
  flip?: boolean;
}

let queries = 0;
/** XEP-0313 §4: sends a query and gathers the results that came before the iq result, in order. */
async function mam(c: ClientSession, opts: QueryOptions = {}): Promise<Page> {
  const queryid = `q${++queries}`;
  const children: Element[] = [];
  if (opts.fields) {
    children.push(
      xml(
        'x',
        { xmlns: NS_DATA, type: 'submit' },
        xml('field', { var: 'FORM_TYPE', type: 'hidden' }, xml('value', {}, NS_MAM)),
        ...Object.entries(opts.fields).map(([k, v]) =>
          xml('field', { var: k }, ...(Array.isArray(v) ? v : [v]).map((x) => xml('value', {}, x))),
        ),
      ),
    );
  }
  if (opts.rsm) {
    const { max, after, before } = opts.rsm;
    const set = xml('set', { xmlns: NS_RSM });
    if (max !== undefined) set.cnode(xml('max', {}, String(max)));
    if (after !== undefined) set.cnode(xml('after', {}, after));
    if (before !== undefined) set.cnode(xml('before', {}, before));
    children.push(set);
  }
  if (opts.flip) children.push(xml('flip-page'));
  const iq = await c.request(xml('iq', { type: 'set' }, xml('query', { xmlns: NS_MAM, queryid }, ...children)), 60_000);
  const mine = (el: Element) => el.is('message') && el.getChild('result', NS_MAM)?.attrs.queryid === queryid;
  const results = c.inbox.filter(mine);
  c.inbox.splice(0, c.inbox.length, ...c.inbox.filter((el) => !mine(el)));
  const fin = iq.getChild('fin', NS_MAM);
  assert.ok(fin, iq.toString());
  const set = fin.getChild('set', NS_RSM);
  const count = set?.getChildText('count');
  return {
    results,
    fin,
    ids: results.map((r) => r.getChild('result', NS_MAM)?.attrs.id ?? ''),
    bodies: results.map((r) => forwardedOf(r)?.getChildText('body') ?? ''),
    complete: fin.attrs.complete === 'true',
    ...(set?.getChildText('first') ? { first: set.getChildText('first') ?? '' } : {}),
    ...(set?.getChildText('last') ? { last: set.getChildText('last') ?? '' } : {}),
    ...(count ? { count: Number(count) } : {}),
  };
}

const forwardedOf = (r: Element): Element | undefined =>
  r.getChild('result', NS_MAM)?.getChild('forwarded', NS_FORWARD)?.getChild('message');
const stanzaIdsOf = (m: Element) => m.getChildren('stanza-id', NS_SID).map((s) => ({ id: s.attrs.id, by: s.attrs.by }));
const isBody = (body: string) => (el: Element) => el.is('message') && el.getChildText('body') === body;
const chat = (to: string, body: string, ...extra: Element[]) =>
  xml('message', { to, type: 'chat', id: `m-${body}` }, xml('body', {}, body), ...extra);

describe('conversations: message archive management (XEP-0313)', function () {
  this.timeout(60_000);
  let dataDir: string;
  let srv: TestServer;
  const clients: ClientSession[] = [];
  const users = ['alice', 'bob', 'carol', 'dave', 'erin'];

  const connect = async (user: string, resource = 'r1'): Promise<ClientSession> => {
    const c = await login(srv, user, resource);
    clients.push(c);
    await available(c);
    return c;
  };
  const stored = (user: string) => srv.server.storage.archive<string>('mam').count('localhost', user);
  const inject = (stanza: string) =>
    srv.server.router.route(parseXml(stanza), {
      kind: 's2s',
      jid: Jid.parse('evil.example'),
      send: () => {},
    });

  before(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'sb-mam-'));
    srv = await startTestServer({ sqlite: true, dataDir });
    for (const u of users) await srv.addUser(u, `${u}-secret`);
  });
  afterEach(async () => stopAll(clients.splice(0)));
  after(async () => {
    await srv?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('advertises mam:2, its extended features and stanza-ids on the account, and offers the query form', async () => {
    const alice = await connect('alice');
    const info = await alice.request(
      xml(
        'iq',
        { type: 'get', to: 'alice@localhost' },
        xml('query', { xmlns: 'http://jabber.org/protocol/disco#info' }),
      ),
    );
    const features =
      info
        .getChild('query')
        ?.getChildren('feature')
        .map((f) => f.attrs.var) ?? [];
    for (const f of [NS_MAM, `${NS_MAM}#extended`, NS_SID, 'urn:xmpp:fulltext:0']) assert.ok(features.includes(f), f);
    const form = await alice.request(xml('iq', { type: 'get' }, xml('query', { xmlns: NS_MAM })));
    const vars = form
      .getChild('query', NS_MAM)
      ?.getChild('x', NS_DATA)
      ?.getChildren('field')
      .map((f) => f.attrs.var);
    assert.deepEqual(vars, [
      'FORM_TYPE',
      'with',
      'start',
      'end',
      'before-id',
      'after-id',
      'ids',
      '{urn:xmpp:fulltext:0}fulltext',
    ]);
  });

  it('archives a conversation for both parties, and the delivered stanza-id is the archive id (§3.5)', async () => {
    const [alice, bob] = [await connect('alice'), await connect('bob')];
    await alice.send(chat('bob@localhost', 'hello bob'));
    const got = await bob.waitFor(isBody('hello bob'));
    // XEP-0359: exactly one stanza-id, by the recipient's archive; none by the sender's (§3.5 MUST NOT).
    const sids = stanzaIdsOf(got);
    assert.equal(sids.length, 1, got.toString());
    assert.equal(sids[0]?.by, 'bob@localhost');
    await bob.send(chat('alice@localhost/r1', 'hello alice'));
    const back = await alice.waitFor(isBody('hello alice'));

    const bobs = await mam(bob, { rsm: { max: 10, before: '' } });
    assert.deepEqual(bobs.bodies.slice(-2), ['hello bob', 'hello alice']);
    assert.equal(bobs.ids.at(-2), sids[0]?.id);
    const result = bobs.results.at(-2);
    assert.equal(result?.attrs.from, 'bob@localhost');
    assert.equal(result?.attrs.to, bob.jid);
    assert.ok(
      result?.getChild('result', NS_MAM)?.getChild('forwarded', NS_FORWARD)?.getChild('delay', 'urn:xmpp:delay'),
    );
    assert.equal(forwardedOf(result as Element)?.attrs.from, alice.jid);

    const alices = await mam(alice, { fields: { with: 'bob@localhost' } });
    assert.deepEqual(alices.bodies, ['hello bob', 'hello alice']);
    assert.equal(alices.complete, true);
    assert.equal(alices.count, 2);
    assert.equal(stanzaIdsOf(back)[0]?.id, alices.ids[1]);
  });

  it('puts the archive id of a sent message into its carbon copies (§3.5, XEP-0280)', async () => {
    const [home, phone] = [await connect('alice', 'home'), await connect('alice', 'phone')];
    await phone.request(xml('iq', { type: 'set' }, xml('enable', { xmlns: NS_CARBONS })));
    await home.send(chat('dave@localhost', 'copied'));
    const copy = await phone.waitFor((el) => el.getChild('sent', NS_CARBONS) !== undefined);
    const inner = copy.getChild('sent', NS_CARBONS)?.getChild('forwarded', NS_FORWARD)?.getChild('message');
    assert.equal(inner?.getChildText('body'), 'copied');
    const last = await mam(home, { rsm: { max: 1, before: '' } });
    assert.deepEqual(stanzaIdsOf(inner as Element), [{ id: last.ids[0], by: 'alice@localhost' }]);
  });

  it('removes stanza-ids forged for local archives, keeps the others (XEP-0359 §5)', async () => {
    const [alice, bob] = [await connect('alice'), await connect('bob')];
    const sid = (by: string, id: string) => xml('stanza-id', { xmlns: NS_SID, by, id });
    // From a local client: stanza-ids claiming any local account's archive are removed before routing.
    await bob.send(
      chat(
        'alice@localhost',
        'forged by bob',
        sid('alice@localhost', 'f1'),
        sid('bob@localhost', 'f2'),
        sid('room@muc.example', 'r1'),
      ),
    );
    const a = await alice.waitFor(isBody('forged by bob'));
    const ids = stanzaIdsOf(a);
    assert.deepEqual(
      ids.map((s) => s.by),
      ['room@muc.example', 'alice@localhost'],
    );
    assert.notEqual(ids[1]?.id, 'f1');
    const page = await mam(alice, { rsm: { max: 1, before: '' } });
    assert.equal(page.ids[0], ids[1]?.id);
    // From another server: the one claiming the recipient's archive is replaced, on unarchived messages too.
    await inject(
      `<message from='mallory@evil.example/x' to='alice@localhost/r1' type='chat'><body>forged remotely</body><stanza-id xmlns='${NS_SID}' by='alice@localhost' id='f3'/></message>`,
    );
    const r = await alice.waitFor(isBody('forged remotely'));
    assert.equal(stanzaIdsOf(r).length, 1);
    assert.notEqual(stanzaIdsOf(r)[0]?.id, 'f3');
    await inject(
      `<message from='mallory@evil.example/x' to='alice@localhost/r1' type='headline'><body>headline</body><stanza-id xmlns='${NS_SID}' by='alice@localhost' id='f4'/></message>`,
    );
    assert.deepEqual(stanzaIdsOf(await alice.waitFor(isBody('headline'))), []);
  });

  it(`pages through ${BULK.toLocaleString('en')} archived messages both ways, each exactly once and in order`, async function () {
    this.timeout(240_000);
    // The bulk goes straight into the store, in the form the module writes; a smaller set arrives as messages.
    const archive = srv.server.storage.archive<string>('mam');
    const base = Date.now() - 2 * 86_400_000;
    for (let i = 0; i < BULK; i += 500) {
      await Promise.all(
        Array.from({ length: Math.min(500, BULK - i) }, (_, k) => {
          const n = i + k;
          const peer = `peer${n % 4}@example.net`;
          const body = bulkBody(n);
          const value = `<message xmlns='jabber:client' from='${peer}/r' to='carol@localhost' type='chat' id='b${n}'><body>${body}</body></message>`;
          return archive.append('localhost', 'carol', {
            with: peer,
            value,
            when: new Date(base + n * 1000),
            text: body,
          });
        }),
      );
    }
    // Live messages while carol is offline: archived, then delivered from offline storage with the same ids.
    const alice = await connect('alice');
    for (let i = 0; i < 20; i++) await alice.send(chat('carol@localhost', `live ${i}`));
    await sync(alice);
    const carol = await connect('carol');
    const offline: Element[] = [];
    for (let i = 0; i < 20; i++) offline.push(await carol.waitFor(isBody(`live ${i}`)));
    await settle(carol);
    const total = BULK + 20;
    // Bulk items were appended concurrently: their id order is the archive order (§3.1).
    const expected = (await archive.find('localhost', 'carol', {})).map(
      (i) => parseXml(i.value).getChildText('body') ?? '',
    );
    assert.equal(expected.length, total);
    assert.deepEqual(
      expected.slice(-20),
      Array.from({ length: 20 }, (_, i) => `live ${i}`),
    );

    const forward: string[] = [];
    const forwardIds: string[] = [];
    let after: string | undefined;
    for (let page = 0; ; page++) {
      const p = await mam(carol, { rsm: { max: 250, ...(after ? { after } : {}) } });
      assert.equal(p.count, total);
      assert.equal(p.first, p.ids[0]);
      assert.equal(p.last, p.ids.at(-1));
      forward.push(...p.bodies);
      forwardIds.push(...p.ids);
      after = p.last;
      if (p.complete) break;
      assert.ok(page < 100, 'paging forwards does not end');
    }
    assert.deepEqual(forward, expected);
    assert.equal(new Set(forwardIds).size, total);

    const pages: string[][] = [];
    let before = '';
    for (;;) {
      const p = await mam(carol, { rsm: { max: 250, before } });
      pages.unshift(p.bodies);
      if (p.complete) break;
      before = p.first ?? '';
      assert.ok(pages.length < 100, 'paging backwards does not end');
    }
    assert.deepEqual(pages.flat(), expected);

    // The live messages carried their archive ids (XEP-0359), the same ones paging returns.
    assert.deepEqual(
      offline.map((m) => stanzaIdsOf(m).find((s) => s.by === 'carol@localhost')?.id),
      forwardIds.slice(-20),
    );

    // §4.3.4: a flipped page holds the same results, newest first.
    const plain = await mam(carol, { rsm: { max: 30, before: '' } });
    const flipped = await mam(carol, { rsm: { max: 30, before: '' }, flip: true });
    assert.deepEqual(flipped.bodies, [...plain.bodies].reverse());

    // §4.1.1, §4.1.2, XEP-0431: filters on the same archive.
    const withPeer = await mam(carol, { fields: { with: 'peer1@example.net' }, rsm: { max: 5 } });
    assert.equal(withPeer.count, BULK / 4);
    assert.deepEqual(withPeer.bodies, ['bulk 1', 'bulk 5', 'bulk 9', 'bulk 13', 'bulk 17']);
    const iso = (n: number) => new Date(base + n * 1000).toISOString();
    const window = await mam(carol, { fields: { start: iso(5000), end: iso(5009) } });
    assert.deepEqual(
      window.bodies,
      Array.from({ length: 10 }, (_, i) => bulkBody(5000 + i)),
    );
    assert.equal(window.complete, true);
    const text = await mam(carol, { fields: { '{urn:xmpp:fulltext:0}fulltext': 'NEEDLE' } });
    assert.deepEqual(
      text.bodies,
      Array.from({ length: BULK / 1000 }, (_, i) => `bulk ${i * 1000 + 7} needle`),
    );
    // §4.1.3: between two known ids, and single items.
    const between = await mam(carol, {
      fields: { 'after-id': forwardIds[99] ?? '', 'before-id': forwardIds[104] ?? '' },
    });
    assert.deepEqual(between.bodies, expected.slice(100, 104));
    const single = await mam(carol, { fields: { ids: [forwardIds[42] ?? ''] } });
    assert.deepEqual(single.bodies, [expected[42]]);
  });

  it('answers item-not-found for unknown ids, feature-not-implemented for unknown fields, forbidden to others', async () => {
    const [alice, bob] = [await connect('alice'), await connect('bob')];
    assert.equal(await errorOf(mam(alice, { rsm: { after: 'not-an-archive-id' } })), 'item-not-found');
    const bobsId = (await mam(bob, { rsm: { max: 1 } })).ids[0] ?? '';
    assert.equal(await errorOf(mam(alice, { rsm: { before: bobsId } })), 'item-not-found');
    assert.equal(await errorOf(mam(alice, { fields: { 'include-groupchat': 'true' } })), 'feature-not-implemented');
    const other = await errorOf(
      alice.request(xml('iq', { type: 'set', to: 'bob@localhost' }, xml('query', { xmlns: NS_MAM }))),
    );
    assert.equal(other, 'forbidden');
    const md = await alice.request(xml('iq', { type: 'get' }, xml('metadata', { xmlns: NS_MAM })));
    const first = md.getChild('metadata', NS_MAM)?.getChild('start');
    assert.equal(first?.attrs.id, (await mam(alice, { rsm: { max: 1 } })).ids[0]);
  });

  it("stores nothing for prefs 'never', except JIDs listed under always; 'roster' keeps contacts only", async () => {
    const [alice, bob, erin, dave] = [
      await connect('alice'),
      await connect('bob'),
      await connect('erin'),
      await connect('dave'),
    ];
    const prefs = (c: ClientSession, def: string, always: string[] = []) =>
      c.request(
        xml(
          'iq',
          { type: 'set' },
          xml(
            'prefs',
            { xmlns: NS_MAM, default: def },
            xml('always', {}, ...always.map((j) => xml('jid', {}, j))),
            xml('never'),
          ),
        ),
      );
    const set = await prefs(erin, 'never', ['bob@localhost']);
    assert.equal(set.getChild('prefs', NS_MAM)?.attrs.default, 'never');
    const got = await erin.request(xml('iq', { type: 'get' }, xml('prefs', { xmlns: NS_MAM })));
    assert.equal(got.getChild('prefs', NS_MAM)?.getChild('always')?.getChildText('jid'), 'bob@localhost');
    const before = await stored('erin');
    await alice.send(chat('erin@localhost', 'not archived'));
    const m = await erin.waitFor(isBody('not archived'));
    assert.deepEqual(stanzaIdsOf(m), []);
    await erin.send(chat('alice@localhost', 'not archived either'));
    await alice.waitFor(isBody('not archived either'));
    assert.equal(await stored('erin'), before);
    await bob.send(chat('erin@localhost', 'always from bob'));
    await erin.waitFor(isBody('always from bob'));
    assert.equal(await stored('erin'), before + 1);

    // XEP-0441 §2.1.1 'roster': bob becomes a contact of dave, alice does not.
    await prefs(dave, 'roster');
    await rosterSet(dave, { jid: 'bob@localhost' });
    const daveBefore = await stored('dave');
    await alice.send(chat('dave@localhost', 'stranger'));
    await bob.send(chat('dave@localhost', 'contact'));
    await dave.waitFor(isBody('stranger'));
    await dave.waitFor(isBody('contact'));
    assert.equal(await stored('dave'), daveBefore + 1);
    assert.deepEqual((await mam(dave, { rsm: { max: 1, before: '' } })).bodies, ['contact']);
    await prefs(dave, 'always');
  });

  it('keeps the archive, its ids and the preferences across a restart (SQLite)', async () => {
    let alice = await connect('alice');
    const before = await mam(alice, { rsm: { max: 250 } });
    assert.ok(before.ids.length > 3);
    await stopAll(clients.splice(0));
    await srv.stop();
    srv = await startTestServer({ sqlite: true, dataDir });
    alice = await connect('alice');
    const after = await mam(alice, { rsm: { max: 250 } });
    assert.deepEqual(after.ids, before.ids);
    assert.deepEqual(after.bodies, before.bodies);
    const erin = await connect('erin');
    const got = await erin.request(xml('iq', { type: 'get' }, xml('prefs', { xmlns: NS_MAM })));
    assert.equal(got.getChild('prefs', NS_MAM)?.attrs.default, 'never');
    // Paging on from an id handed out before the restart still works.
    const next = await mam(alice, { rsm: { max: 2, after: before.ids[0] ?? '' } });
    assert.deepEqual(next.ids, before.ids.slice(1, 3));
  });

  it('archives a message between two resources of one account once (§6.1.1)', async () => {
    const [home, phone] = [await connect('bob', 'home'), await connect('bob', 'phone')];
    const before = await stored('bob');
    await home.send(chat(phone.jid, 'note to self'));
    await phone.waitFor(isBody('note to self'));
    assert.equal(await stored('bob'), before + 1);
    const self = await mam(home, { fields: { with: 'bob@localhost' } });
    assert.deepEqual(self.bodies, ['note to self']);
  });

  it("deletes the account's archive and preferences with the account", async () => {
    assert.ok((await stored('dave')) > 0);
    await srv.server.accounts.delete('localhost', 'dave');
    assert.equal(await stored('dave'), 0);
    assert.equal(await srv.server.storage.keyval('mam-prefs').get('localhost', 'dave'), null);
    assert.ok((await stored('alice')) > 0, 'other archives are untouched');
  });
});

describe('conversations: archive retention (XEP-0313 §3.2)', function () {
  this.timeout(20_000);
  let srv: TestServer;
  before(async () => {
    srv = await startTestServer({ yaml: 'modules:\n  mam: { expire_days: 1, expire_check_seconds: 1 }' });
  });
  after(async () => srv?.stop());

  it('removes messages older than expire_days, and only those', async () => {
    const archive = srv.server.storage.archive<string>('mam');
    const value = "<message xmlns='jabber:client' type='chat'><body>x</body></message>";
    await archive.append('localhost', 'old', { with: 'a@b', value, when: new Date(Date.now() - 2 * 86_400_000) });
    await archive.append('localhost', 'old', { with: 'a@b', value, when: new Date(Date.now() - 3_600_000) });
    const deadline = Date.now() + 10_000;
    while ((await archive.count('localhost', 'old')) > 1 && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(await archive.count('localhost', 'old'), 1);
  });

  it('refuses a default page size above the maximum at startup', async () => {
    await assert.rejects(
      startTestServer({ yaml: 'modules:\n  mam: { default_page_size: 300, max_page_size: 100 }' }),
      /default_page_size/,
    );
  });
});
