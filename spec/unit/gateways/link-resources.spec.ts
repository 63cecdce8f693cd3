// Unit tests of gateways/core/link.ts with a recording driver: the optional per-resource presence of the driver
// contract (LegacySession.setResourcePresence, driver.ts), the aggregate handed to setPresence() as resources come and
// go (XEP-0100 §4.4, §4.5), and upstream messages that name a resource (a SIP GRUU, RFC 7247 §6) going to the user's
// full JID.
import assert from 'node:assert/strict';
import pino from 'pino';
import { AddressMapper } from '../../../gateways/core/address.js';
import type {
  AddressCodec,
  GatewayDriver,
  LegacyMessage,
  LegacyPresence,
  LegacySession,
  UpstreamSink,
} from '../../../gateways/core/driver.js';
import { UserLink } from '../../../gateways/core/link.js';
import { Jid } from '../../../server/jid/index.js';
import type { Element } from '../../../server/xml/element.js';

const codec: AddressCodec = {
  description: 'name@net',
  prompt: 'address',
  parse: (s) => s,
  toLocal: (id) => id,
  fromLocal: (l) => l,
};

type Call = [string, ...unknown[]];

/** A driver whose one session records every call; `perResource` decides whether it has setResourcePresence. */
function recorder(perResource: boolean) {
  const calls: Call[] = [];
  let sink: UpstreamSink | null = null;
  const session: LegacySession = {
    async sendMessage(to, m: LegacyMessage) {
      calls.push(['sendMessage', to, m.body]);
    },
    async setPresence(p: LegacyPresence) {
      calls.push(['setPresence', p.status ?? null]);
    },
    async logout() {
      calls.push(['logout']);
    },
    ...(perResource
      ? {
          async setResourcePresence(resource: string, p: LegacyPresence | null) {
            calls.push(['setResourcePresence', resource, p ? (p.status ?? null) : null]);
          },
        }
      : {}),
  };
  const driver: GatewayDriver = {
    kind: 'test',
    registration: [],
    address: codec,
    validateRegistration: async () => ({}),
    login: async (_user, _cred, up) => {
      sink = up;
      return session;
    },
  };
  const sent: Element[] = [];
  const link = new UserLink(Jid.parse('alice@example.com'), {
    driver,
    mapper: new AddressMapper(codec, 'gw.example'),
    log: pino({ level: 'silent' }),
    loadCred: async () => ({}),
    send: (el) => sent.push(el),
    backoff: { initialMs: 10, maxMs: 100, stableMs: 1000 },
    loginTimeoutMs: 1000,
    sendTimeoutMs: 1000,
  });
  return { calls, sent, link, sink: () => sink as UpstreamSink };
}

const here = (status: string): LegacyPresence => ({ available: true, status });
const A = 'alice@example.com/laptop';
const B = 'alice@example.com/phone';

async function online(link: UserLink): Promise<void> {
  for (let i = 0; i < 100 && link.state !== 'online'; i++) await new Promise((r) => setTimeout(r, 5));
  assert.equal(link.state, 'online');
  await new Promise((r) => setImmediate(r)); // the presence replay after login
}

describe('gateways/core UserLink: per-resource presence and resources of messages', () => {
  it('reports every resource after login, then each change before the aggregate (setResourcePresence)', async () => {
    const { calls, link } = recorder(true);
    link.available(A, here('on the laptop'));
    link.available(B, here('on the phone'));
    await online(link);
    assert.deepEqual(calls.splice(0), [
      ['setResourcePresence', 'laptop', 'on the laptop'],
      ['setResourcePresence', 'phone', 'on the phone'],
      ['setPresence', 'on the phone'],
    ]);
    link.available(A, here('back on the laptop'));
    assert.deepEqual(calls.splice(0), [
      ['setResourcePresence', 'laptop', 'back on the laptop'],
      ['setPresence', 'back on the laptop'],
    ]);
    // One resource leaves, the other stays: that resource is dropped, the aggregate is the remaining one's.
    await link.unavailable(A);
    assert.deepEqual(calls.splice(0), [
      ['setResourcePresence', 'laptop', null],
      ['setPresence', 'on the phone'],
    ]);
    // An unknown resource changes nothing; the last one logs out instead (XEP-0100 §4.5).
    await link.unavailable('alice@example.com/elsewhere');
    assert.deepEqual(calls.splice(0), []);
    await link.unavailable(B);
    assert.deepEqual(calls.splice(0), [['logout']]);
  });

  it('keeps drivers without it working: setPresence() only, again when a departure changes the aggregate', async () => {
    const { calls, link } = recorder(false);
    link.available(A, here('laptop'));
    await online(link);
    link.available(B, here('phone'));
    link.available(A, here('laptop'));
    assert.deepEqual(calls.splice(0), [
      ['setPresence', 'laptop'],
      ['setPresence', 'phone'],
      ['setPresence', 'laptop'],
    ]);
    // The most recently updated resource leaves: the aggregate falls back to the other one.
    await link.unavailable(A);
    assert.deepEqual(calls.splice(0), [['setPresence', 'phone']]);
    // Same presence on both: a departure does not repeat it.
    link.available(A, here('phone'));
    calls.splice(0);
    await link.unavailable(B);
    assert.deepEqual(calls.splice(0), []);
  });

  it("delivers an upstream message that names a resource to the user's full JID, else to the bare JID", async () => {
    const { sent, link, sink } = recorder(true);
    link.available(A, here('x'));
    await online(link);
    sent.splice(0);
    sink().message('bob@net', { body: 'to the laptop', resource: 'laptop' });
    sink().message('bob@net', { body: 'to alice' });
    sink().message('bob@net', { body: 'bad resource', resource: '\u0000' });
    const to = sent.filter((el) => el.is('message')).map((el) => [el.attrs.to, el.getChildText('body')]);
    assert.deepEqual(to, [
      ['alice@example.com/laptop', 'to the laptop'],
      ['alice@example.com', 'to alice'],
      ['alice@example.com', 'bad resource'],
    ]);
    assert.equal(sent[0]?.attrs.from, 'bob\\40net@gw.example');
  });
});
