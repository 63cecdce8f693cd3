// Unit: XEP-0198 sequence numbers and the unacknowledged queue (server/modules/xep-0198-sm/codec.ts, queue.ts),
// including the wrap from 2^32-1 back to zero (§4), and what becomes of unacknowledged stanzas (unacked.ts).
import assert from 'node:assert/strict';
import {
  addH,
  diffH,
  H_MODULO,
  handledCountTooHigh,
  isStanza,
  parseH,
} from '../../../server/modules/xep-0198-sm/codec.js';
import { UnackedQueue } from '../../../server/modules/xep-0198-sm/queue.js';
import { disposal } from '../../../server/modules/xep-0198-sm/unacked.js';
import { parseXml } from '../../../server/xml/element.js';

const MAX = H_MODULO - 1; // 4294967295

describe('XEP-0198 counters', () => {
  describe('h arithmetic modulo 2^32 (§4)', () => {
    it('increments, and wraps from 2^32-1 back to zero rather than reaching 2^32', () => {
      assert.equal(addH(0), 1);
      assert.equal(addH(MAX - 1), MAX);
      assert.equal(addH(MAX), 0);
      assert.equal(addH(MAX, 5), 4);
    });
    it('measures the distance between sequence numbers across the wrap', () => {
      assert.equal(diffH(10, 3), 7);
      assert.equal(diffH(3, 3), 0);
      assert.equal(diffH(2, MAX - 1), 4);
      assert.equal(diffH(0, MAX), 1);
      // A value "behind" the last one is a very long way ahead, which no queue holds.
      assert.equal(diffH(3, 10), H_MODULO - 7);
    });
    it('parses h as an xs:unsignedInt only', () => {
      assert.equal(parseH('0'), 0);
      assert.equal(parseH('4294967295'), MAX);
      assert.equal(parseH('4294967296'), null);
      assert.equal(parseH('-1'), null);
      assert.equal(parseH('1.5'), null);
      assert.equal(parseH(' 1'), null);
      assert.equal(parseH(''), null);
      assert.equal(parseH(undefined), null);
      assert.equal(parseH('99999999999'), null);
    });
  });

  describe('UnackedQueue', () => {
    it('counts what was sent and drops what an ack covers', () => {
      const q = new UnackedQueue<string>();
      for (const s of ['a', 'b', 'c']) q.push(s);
      assert.equal(q.sent, 3);
      assert.equal(q.ack(2), 2);
      assert.deepEqual(q.pending(), ['c']);
      assert.equal(q.ack(2), 0, 'the same h again releases nothing');
      assert.equal(q.ack(3), 1);
      assert.equal(q.length, 0);
      assert.equal(q.sent, 3);
    });

    it('keeps counting across 2^32: acks before, at and after the wrap', () => {
      const q = new UnackedQueue<number>(MAX - 2);
      for (let i = 0; i < 6; i++) q.push(i);
      assert.equal(q.sent, 3, '(2^32 - 3) + 6 wraps to 3');
      assert.equal(q.ack(MAX), 2);
      assert.deepEqual(q.pending(), [2, 3, 4, 5]);
      assert.equal(q.ack(0), 1, 'h goes from 2^32-1 to 0');
      assert.equal(q.ack(3), 3);
      assert.equal(q.length, 0);
    });

    it('refuses an h beyond what was sent, before or across the wrap, and changes nothing (§6)', () => {
      const q = new UnackedQueue<number>();
      q.push(1);
      q.push(2);
      assert.equal(q.ack(3), null);
      assert.equal(q.length, 2);
      const w = new UnackedQueue<number>(MAX);
      w.push(1);
      w.push(2);
      assert.equal(w.sent, 1);
      assert.equal(w.ack(2), null);
      assert.equal(w.ack(MAX - 1), null, 'an h behind the last one acknowledged is refused too');
      assert.equal(w.ack(1), 2);
    });

    it('takes everything still pending when the session ends, oldest first', () => {
      const q = new UnackedQueue<number>();
      for (let i = 0; i < 3000; i++) q.push(i);
      assert.equal(q.ack(2000), 2000);
      q.push(3000);
      const rest = q.takeAll();
      assert.equal(rest.length, 1001);
      assert.equal(rest[0], 2000);
      assert.equal(rest.at(-1), 3000);
      assert.equal(q.length, 0);
    });
  });

  it('builds the handled-count-too-high stream error (§6)', () => {
    const el = handledCountTooHigh(10, 8).toElement();
    assert.ok(el.getChild('undefined-condition', 'urn:ietf:params:xml:ns:xmpp-streams'));
    const detail = el.getChild('handled-count-too-high', 'urn:xmpp:sm:3');
    assert.equal(detail?.attrs.h, '10');
    assert.equal(detail?.attrs['send-count'], '8');
  });

  it('counts stanzas only (§4)', () => {
    assert.ok(isStanza(parseXml('<message/>')));
    assert.ok(isStanza(parseXml("<iq xmlns='jabber:client'/>")));
    assert.ok(!isStanza(parseXml("<r xmlns='urn:xmpp:sm:3'/>")));
    assert.ok(!isStanza(parseXml("<message xmlns='urn:example'/>")));
  });

  describe('disposal of unacknowledged stanzas (§4, XEP-0160 §3)', () => {
    const d = (s: string) => disposal(parseXml(s));
    it('stores chat and normal messages offline', () => {
      assert.equal(d("<message type='chat'><body>x</body></message>"), 'offline');
      assert.equal(d('<message><body>x</body></message>'), 'offline');
    });
    it('drops headline, groupchat and error messages, and forwarded copies', () => {
      assert.equal(d("<message type='headline'><body>x</body></message>"), 'drop');
      assert.equal(d("<message type='groupchat'><body>x</body></message>"), 'drop');
      assert.equal(d("<message type='error'><body>x</body></message>"), 'drop');
      assert.equal(d("<message type='chat'><received xmlns='urn:xmpp:carbons:2'/></message>"), 'drop');
      assert.equal(d("<message><result xmlns='urn:xmpp:mam:2'/></message>"), 'drop');
    });
    it('bounces iq requests, drops iq answers and presence', () => {
      assert.equal(d("<iq type='get' id='1'/>"), 'bounce');
      assert.equal(d("<iq type='set' id='1'/>"), 'bounce');
      assert.equal(d("<iq type='result' id='1'/>"), 'drop');
      assert.equal(d("<iq type='error' id='1'/>"), 'drop');
      assert.equal(d('<presence/>'), 'drop');
    });
  });
});
