// Driver conformance suite (DESIGN §6, §8): every GatewayDriver must pass it against its legacy network. Usage,
// from a driver's spec file:
//   driverConformance('irc', () => ircDriver.create({ domain, options, log }), new NgircdPeer());
// It exercises the driver alone, without XMPP: gateways/core is tested separately (spec/conversations).
import assert from 'node:assert/strict';
import { escapeLocal, Jid, unescapeLocal } from '../../server/jid/index.js';
import type {
  GatewayDriver,
  LegacyId,
  LegacyMessage,
  LegacyPresence,
  LegacySession,
  LegacyState,
  UpstreamSink,
} from '../core/driver.js';
import type { LegacyPeer } from './peer.js';

export type { LegacyPeer, PeerMessage } from './peer.js';

/** Everything a driver sent upstream during one login, with waiters for the next matching call. */
export class RecordingSink implements UpstreamSink {
  readonly messages: { from: LegacyId; m: LegacyMessage }[] = [];
  readonly presences: { from: LegacyId; p: LegacyPresence }[] = [];
  readonly requests: { from: LegacyId; nick?: string }[] = [];
  readonly states: { s: LegacyState; detail?: string }[] = [];
  private waiters: (() => void)[] = [];

  message(from: LegacyId, m: LegacyMessage): void {
    this.messages.push({ from, m });
    this.wake();
  }
  presence(from: LegacyId, p: LegacyPresence): void {
    this.presences.push({ from, p });
    this.wake();
  }
  subscriptionRequest(from: LegacyId, nick?: string): void {
    this.requests.push(nick === undefined ? { from } : { from, nick });
    this.wake();
  }
  state(s: LegacyState, detail?: string): void {
    this.states.push(detail === undefined ? { s } : { s, detail });
    this.wake();
  }

  /** Resolves when `test` holds, checking after every upstream call; rejects after timeoutMs. */
  async until<T>(test: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = test();
      if (hit !== undefined) return hit;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 250));
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** The legacy id a JID localpart maps back to: the path the framework takes for every inbound stanza. */
function roundTrip(driver: GatewayDriver, id: LegacyId, domain: string): LegacyId | null {
  const jid = Jid.of(escapeLocal(driver.address.toLocal(id)), domain);
  return driver.address.fromLocal(unescapeLocal(jid.local ?? ''));
}

const sameId = (a: string | null, b: string): boolean => a !== null && a.toLowerCase() === b.toLowerCase();

/**
 * Registers a mocha suite for one driver. `makeDriver` is called once per test so tests share no state.
 * `peer` is the other end on the legacy network (see LegacyPeer).
 */
export function driverConformance(
  name: string,
  makeDriver: () => GatewayDriver | Promise<GatewayDriver>,
  peer: LegacyPeer,
): void {
  describe(`gateway driver conformance: ${name}`, function () {
    const loginMs = peer.loginTimeoutMs ?? 10_000;
    this.timeout(loginMs * 3 + 10_000);
    const user = Jid.of('conformance', 'localhost');
    let driver: GatewayDriver;
    let sessions: LegacySession[] = [];

    before(async function () {
      if (await peer.start()) return;
      if (process.env.REQUIRE_PEERS === '1') throw new Error(`${name}: the legacy peer is not available`);
      this.skip();
    });
    after(() => peer.stop());
    beforeEach(async () => {
      driver = await makeDriver();
      sessions = [];
    });
    afterEach(async () => {
      for (const s of sessions) await s.logout('conformance test done');
      await driver.close?.();
    });

    async function login(form = peer.validForm()) {
      const cred = await driver.validateRegistration(form, AbortSignal.timeout(loginMs));
      const sink = new RecordingSink();
      const session = await driver.login(user, cred, sink, AbortSignal.timeout(loginMs));
      sessions.push(session);
      return { form, sink, session };
    }

    describe('address codec (XEP-0100 §6.3, XEP-0106)', () => {
      it('describes the address prompt', () => {
        assert.ok(driver.address.description.length > 0);
        assert.ok(driver.address.prompt.length > 0);
      });
      it('round-trips every sample id through an escaped JID localpart', () => {
        assert.ok(peer.sampleIds.length > 0, 'the peer must provide sample ids');
        for (const id of [...peer.sampleIds, peer.id]) {
          assert.equal(driver.address.parse(id)?.toLowerCase(), id.toLowerCase(), `parse(${id}) is canonical`);
          assert.ok(sameId(roundTrip(driver, id, 'gw.localhost'), id), `round trip of ${id}`);
        }
      });
      it('produces localparts that need XEP-0106 escaping only where RFC 7622 forbids the character', () => {
        for (const id of peer.sampleIds) {
          const local = escapeLocal(driver.address.toLocal(id));
          assert.equal(unescapeLocal(local), driver.address.toLocal(id), `escape/unescape of ${id}`);
          assert.doesNotMatch(local, /[ "&'/:<>@]/, `${local} still has a forbidden character`);
        }
      });
      it('rejects invalid user input', () => {
        for (const input of peer.invalidAddresses) assert.equal(driver.address.parse(input), null, input);
      });
      it('does not throw on localparts that name no legacy address', () => {
        for (const local of ['', '\\5c', 'a\\40', '%', '#', 'x'.repeat(1023)]) driver.address.fromLocal(local);
      });
    });

    describe('registration (XEP-0077, XEP-0004)', () => {
      it('declares well-formed fields', () => {
        const vars = new Set<string>();
        for (const f of driver.registration) {
          assert.ok(f.var.length > 0 && !vars.has(f.var), `field var ${f.var} is unique and non-empty`);
          vars.add(f.var);
          if (f.type === 'list-single' || f.type === 'list-multi') assert.ok(f.options?.length, `${f.var} options`);
        }
      });
      it('accepts a valid form and returns JSON-serializable credentials', async () => {
        const cred = await driver.validateRegistration(peer.validForm(), AbortSignal.timeout(loginMs));
        assert.deepEqual(JSON.parse(JSON.stringify(cred)), cred);
      });
      it('rejects bad forms', async () => {
        for (const form of peer.invalidForms) {
          await assert.rejects(driver.validateRegistration(form, AbortSignal.timeout(loginMs)), JSON.stringify(form));
        }
      });
    });

    describe('login and logout (XEP-0100 §4.4, §4.5)', () => {
      it('logs in, then logs out', async () => {
        const { session } = await login();
        sessions = [];
        await session.logout('bye');
      });
      it('rejects promptly when the signal is already aborted', async () => {
        const cred = await driver.validateRegistration(peer.validForm(), AbortSignal.timeout(loginMs));
        const ac = new AbortController();
        ac.abort(new Error('cancelled'));
        const started = Date.now();
        await assert.rejects(driver.login(user, cred, new RecordingSink(), ac.signal));
        assert.ok(Date.now() - started < 2000, 'an aborted login must not wait for the network');
      });
      it('rejects when aborted during the login', async () => {
        const cred = await driver.validateRegistration(peer.validForm(), AbortSignal.timeout(loginMs));
        const ac = new AbortController();
        const p = driver.login(user, cred, new RecordingSink(), ac.signal);
        setTimeout(() => ac.abort(new Error('cancelled')), 1);
        const settled = await p.then(
          (s) => s,
          () => null,
        );
        // A login that won the race is acceptable; it must then log out cleanly.
        if (settled) await settled.logout('aborted');
      });
      it('mirrors the user presence without failing', async () => {
        const { session } = await login();
        await session.setPresence({ available: true, show: 'away', status: 'conformance' });
        await session.setPresence({ available: true });
      });
    });

    describe('messages', () => {
      it('delivers messages to the peer in order', async () => {
        const { session } = await login();
        const bodies = ['one', 'two', 'three', 'four', 'five'].map((b) => `${b} ${Date.now()}`);
        // The framework awaits each send before the next per (user, peer); do the same here.
        for (const body of bodies) await session.sendMessage(peer.id, { body });
        const got: string[] = [];
        while (got.length < bodies.length) got.push((await peer.receive(loginMs)).body);
        assert.deepEqual(got, bodies);
      });
      it('maps an upstream message to the peer id', async () => {
        const { form, sink } = await login();
        const body = `hello from the peer ${Date.now()}`;
        await peer.send(form, body);
        const hit = await sink.until(() => sink.messages.find((x) => x.m.body === body), loginMs, 'the message');
        assert.ok(sameId(hit.from, peer.id), `${hit.from} is ${peer.id}`);
        assert.ok(driver.address.toLocal(hit.from).length > 0);
      });
      it('maps upstream presence to the peer id', async function () {
        if (!peer.setPresence) this.skip();
        const { sink } = await login();
        await peer.setPresence?.({ available: true, show: 'away', status: 'gone fishing' });
        const hit = await sink.until(
          () => sink.presences.find((x) => sameId(x.from, peer.id) && x.p.show === 'away'),
          loginMs,
          'the presence',
        );
        assert.equal(hit.p.available, true);
      });
    });
  });
}
