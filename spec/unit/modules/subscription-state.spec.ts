// RFC 6121 Appendix A: every row of the four outbound (A.2) and four inbound (A.3) tables, plus the §3.4
// pre-approval rows, against the pure state machine.
import assert from 'node:assert/strict';
import { KeyedRateLimiter } from '../../../server/modules/rfc6121-presence/rate-limit.js';
import {
  inbound,
  outbound,
  parseStateName,
  type SubscriptionType,
  stateName,
} from '../../../server/modules/rfc6121-presence/subscription.js';
import type { SubscriptionSnapshot } from '../../../server/modules/rfc6121-roster/types.js';
import { INBOUND, OUTBOUND, type Row, STATES, type State } from '../../helpers/appendix-a.js';

const s = (name: State, approved = false): SubscriptionSnapshot => ({ ...parseStateName(name), approved });
const name = (x: SubscriptionSnapshot | null): string | null => (x === null ? null : stateName(x));

describe('unit: RFC 6121 Appendix A subscription state machine', () => {
  it('names every Appendix A.1 state and parses it back', () => {
    for (const n of STATES) assert.equal(stateName(parseStateName(n)), n);
    assert.throws(() => parseStateName('Sideways'));
  });

  it('has a row for every state in every table (A.2.3 None, None + Pending Out and To: §3.4 below)', () => {
    const preApproval: State[] = ['None', 'None + Pending Out', 'To'];
    for (const [type, rows] of [...Object.entries(OUTBOUND), ...Object.entries(INBOUND)]) {
      const covered = rows.map((r) => r[0]);
      if (OUTBOUND.subscribed === rows) covered.push(...preApproval);
      assert.deepEqual([...covered].sort(), [...STATES].sort(), type);
    }
  });

  for (const [type, rows] of Object.entries(OUTBOUND) as [SubscriptionType, Row[]][]) {
    describe(`A.2 outbound ${type}`, () => {
      for (const [from, route, to] of rows) {
        it(`${from}: route=${route}, ${to ?? 'no state change'}`, () => {
          const d = outbound(s(from), type);
          assert.equal(d.route, route);
          assert.equal(name(d.next), to);
          if (d.next) assert.equal(d.next.approved, false);
        });
      }
    });
  }

  for (const [type, rows] of Object.entries(INBOUND) as [SubscriptionType, Row[]][]) {
    describe(`A.3 inbound ${type}`, () => {
      for (const [from, deliver, to, extras = []] of rows) {
        // §3.1.3 rule 2: a subscribe from a contact already subscribed is answered 'subscribed' for the user.
        const reply = extras.includes('subscribed') ? 'subscribed' : undefined;
        it(`${from}: deliver=${deliver}, ${to ?? 'no state change'}${reply ? ', answered' : ''}`, () => {
          const d = inbound(s(from), type);
          assert.equal(d.deliver, deliver);
          assert.equal(name(d.next), to);
          assert.equal(d.autoReply, reply);
        });
      }
    });
  }

  describe('§3.4 pre-approval', () => {
    for (const [from, to] of [
      ['None', 'From'],
      ['None + Pending Out', 'From + Pending Out'],
      ['To', 'Both'],
    ] as const) {
      it(`outbound subscribed in ${from} pre-approves without routing`, () => {
        const d = outbound(s(from), 'subscribed');
        assert.equal(d.route, false);
        assert.equal(name(d.next), from);
        assert.equal(d.next?.approved, true);
        assert.deepEqual(outbound(s(from, true), 'subscribed'), { route: false, next: null });
      });
      it(`inbound subscribe in ${from} (pre-approved) is answered and becomes ${to}`, () => {
        const d = inbound(s(from, true), 'subscribe');
        assert.equal(d.deliver, false);
        assert.equal(d.autoReply, 'subscribed');
        assert.equal(name(d.next), to);
        assert.equal(d.next?.approved, false, 'the pre-approval is used up');
      });
      it(`outbound unsubscribed in ${from} withdraws the pre-approval without routing`, () => {
        const d = outbound(s(from, true), 'unsubscribed');
        assert.equal(d.route, false);
        assert.equal(name(d.next), from);
        assert.equal(d.next?.approved, false);
      });
    }
  });
});

describe('unit: keyed rate limiter', () => {
  it('allows a burst, then refills per minute, per key', () => {
    let now = 0;
    const l = new KeyedRateLimiter(3, 6, 100, () => now);
    assert.deepEqual([l.allow('a'), l.allow('a'), l.allow('a'), l.allow('a')], [true, true, true, false]);
    assert.equal(l.allow('b'), true);
    now += 10_000; // one token per 10 s
    assert.equal(l.allow('a'), true);
    assert.equal(l.allow('a'), false);
  });
  it('keeps at most maxKeys buckets', () => {
    const l = new KeyedRateLimiter(1, 1, 10);
    for (let i = 0; i < 100; i++) l.allow(`k${i}`);
    assert.equal(l.size, 10);
  });
});
