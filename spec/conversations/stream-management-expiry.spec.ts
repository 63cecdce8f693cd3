// Conversations: XEP-0198 stream management when a session is not resumed: after the resumption time the
// messages its client never acknowledged come from offline storage, its contacts see it go unavailable, and
// requests to it are answered; and a fault of the server (not the client's) leaves a resumable session waiting.
import assert from 'node:assert/strict';
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../server/core/module.js';
import {
  available,
  bare,
  type ClientSession,
  dropConnection,
  expectNone,
  expectPresence,
  fresh,
  login,
  rosterGet,
  settle,
  stopAll,
  subscribe,
  xml,
} from '../helpers/im-clients.js';
import { type Element, NS_STANZAS, type RawClient } from '../helpers/raw-client.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import {
  burst,
  collectBodies,
  eventually,
  isBodyMessage,
  isHibernating,
  NS_SM,
  SmClient,
} from '../helpers/sm-client.js';

const NS_DELAY = 'urn:xmpp:delay';
const hibernating = (srv: TestServer, user: string): boolean => isHibernating(srv, `${user}@localhost`);
const errorCondition = (el: Element): string | undefined =>
  el
    .getChild('error')
    ?.getChildElements()
    .find((c) => c.getNS() === NS_STANZAS)?.name;

describe('conversations: stream management without resumption in time (XEP-0198 §4, XEP-0160)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  const raws: RawClient[] = [];
  const open: ClientSession[] = [];

  before(async () => {
    srv = await startTestServer({ yaml: 'modules:\n  sm:\n    resume_timeout_seconds: 1' });
  });
  afterEach(async () => {
    for (const c of raws.splice(0)) c.destroy();
    await stopAll(open.splice(0));
  });
  after(async () => {
    await srv.stop();
  });

  it('500 messages in flight when the connection dies arrive from offline storage on the next login, exactly once, in order', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    await Promise.all([srv.addUser(alice, `${alice}-secret`), srv.addUser(bob, `${bob}-secret`)]);
    const a = await SmClient.login(srv, alice, 'phone');
    raws.push(a.c);
    const enabled = await a.enable(true);
    assert.equal(enabled.attrs.max, '1');
    await a.available();
    const b = await SmClient.login(srv, bob, 'desk');
    raws.push(b.c);
    const { text, bodies } = burst(`${alice}@localhost`, 500);
    b.c.send(text);
    await collectBodies(a.c, 50);
    // The client acknowledges what it has handled so far (the server has it once the ping is answered), then
    // dies: whatever arrived after the ack, or never arrived, is unacknowledged.
    const h = a.handled;
    const acked = a.bodies();
    assert.ok(acked.length < 500, `${acked.length} acknowledged before the cut`);
    a.c.send(`<a xmlns='${NS_SM}' h='${h}'/>`);
    await a.sync();
    a.c.destroy();
    await b.sync();
    await eventually(() => srv.server.sessions.resources(`${alice}@localhost`).length === 0, 'the session expires');

    const next = await SmClient.login(srv, alice, 'tablet');
    raws.push(next.c);
    await next.available();
    const rest = await collectBodies(next.c, 500 - acked.length);
    if (process.env.SB_TEST_VERBOSE) console.log(`acked ${acked.length}, from offline storage ${rest.length}`);
    assert.deepEqual([...acked, ...rest], bodies);
    await next.c.expectNothing(isBodyMessage, 300);
    const first = next.c.received.find(isBodyMessage);
    assert.ok(first?.getChild('delay', NS_DELAY), `stamped by offline storage: ${first?.toString()}`);
  });

  it('contacts see the dropped resource go unavailable only when the resumption time is over (XEP-0198 §7)', async () => {
    const names = [fresh('alice'), fresh('bob')];
    await Promise.all(names.map((n) => srv.addUser(n, `${n}-secret`)));
    const [a, b] = await Promise.all(names.map((n, i) => login(srv, n, 'r1', { streamManagement: i === 0 })));
    open.push(a!, b!);
    await Promise.all([rosterGet(a!), rosterGet(b!)]);
    await Promise.all([available(a!), available(b!)]);
    await subscribe(b!, a!);
    await settle(a!, b!);
    const started = Date.now();
    dropConnection(a!);
    await expectNone(b!, (el) => el.is('presence') && el.attrs.from === a!.jid, 500);
    await expectPresence(b!, a!.jid, 'unavailable', 3000);
    assert.ok(Date.now() - started >= 900, 'not before the resumption time');
    // The account stays usable: a message now goes to offline storage.
    await b!.send(xml('message', { to: bare(a!), type: 'chat' }, xml('body', {}, 'later')));
  });

  it('an iq request left unacknowledged is answered with service-unavailable for its sender', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    await Promise.all([srv.addUser(alice, `${alice}-secret`), srv.addUser(bob, `${bob}-secret`)]);
    const a = await SmClient.login(srv, alice, 'phone');
    raws.push(a.c);
    await a.enable(true);
    const b = await SmClient.login(srv, bob, 'desk');
    raws.push(b.c);
    const reply = b.c.iq(
      `<iq type='get' id='ID' to='${alice}@localhost/phone'><query xmlns='jabber:iq:version'/></iq>`,
    );
    await a.c.waitFor((el) => el.is('iq') && el.attrs.type === 'get');
    a.c.destroy();
    const answer = await reply;
    assert.equal(answer.attrs.type, 'error');
    assert.equal(errorCondition(answer), 'service-unavailable');
  });
});

describe('conversations: stream management after a fault of the server (XEP-0198 §7)', function () {
  this.timeout(30_000);
  let srv: TestServer;
  const raws: RawClient[] = [];
  /** Test-only: <boom xmlns='urn:test:fault'/> makes a handler fail unexpectedly (internal-server-error). */
  const fault = defineModule({
    name: 'test_fault',
    specs: [],
    options: Type.Object({}),
    defaultEnabled: true,
    setup(ctx) {
      ctx.hook('c2s-nonza', ({ element }) => {
        if (element.is('boom', 'urn:test:fault')) throw new Error('provoked for the test');
        return false;
      });
    },
  });

  before(async () => {
    srv = await startTestServer({ extraModules: [fault] });
  });
  afterEach(() => {
    for (const c of raws.splice(0)) c.destroy();
  });
  after(async () => {
    await srv.stop();
  });

  it('a resumable session outlives an internal-server-error stream error and is resumed', async () => {
    const [alice, bob] = [fresh('alice'), fresh('bob')];
    await Promise.all([srv.addUser(alice, `${alice}-secret`), srv.addUser(bob, `${bob}-secret`)]);
    const a = await SmClient.login(srv, alice, 'phone');
    raws.push(a.c);
    await a.enable(true);
    await a.available();
    a.c.send("<boom xmlns='urn:test:fault'/>");
    assert.equal(await a.c.waitForStreamError(), 'internal-server-error');
    await a.c.waitForEnd();
    await eventually(() => hibernating(srv, alice), 'the session hibernates');
    const b = await SmClient.login(srv, bob, 'desk');
    raws.push(b.c);
    b.c.send(`<message to='${alice}@localhost' type='chat'><body>after the fault</body></message>`);
    await b.sync();
    const again = await SmClient.login(srv, alice, undefined, true);
    raws.push(again.c);
    assert.equal((await again.resume(a.previd, a.handled)).name, 'resumed');
    assert.deepEqual(await collectBodies(again.c, 1), ['after the fault']);
  });

  it('the same fault ends a session without resumption at once', async () => {
    const alice = fresh('alice');
    await srv.addUser(alice, `${alice}-secret`);
    const a = await SmClient.login(srv, alice, 'phone');
    raws.push(a.c);
    await a.enable(false);
    a.c.send("<boom xmlns='urn:test:fault'/>");
    assert.equal(await a.c.waitForStreamError(), 'internal-server-error');
    await eventually(() => srv.server.sessions.resources(`${alice}@localhost`).length === 0, 'alice is unbound');
  });
});
