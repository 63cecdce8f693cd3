// Table tests of the RFC 7247 §7 error mapping, both ways (gateways/sip/errors.ts). The expected values are RFC 7247's
// own tables (§7.1 Table 2, §7.2 Table 3, May 2014) typed in row by row, with the choices its notes make: they are
// data from the RFC, not read back from the implementation.
import assert from 'node:assert/strict';
import {
  SIP_TO_XMPP,
  sipFailure,
  sipToXmppCondition,
  XMPP_TO_SIP,
  xmppToSipStatus,
} from '../../../gateways/sip/errors.js';
import type { StanzaErrorCondition } from '../../../server/errors/index.js';

describe('SIP gateway error mapping (RFC 7247 §7)', () => {
  describe('XMPP → SIP (§7.1, Table 2)', () => {
    // Every row of Table 2: the condition and the code(s) the RFC gives it, in the RFC's order.
    const table: [StanzaErrorCondition, readonly number[]][] = [
      ['bad-request', [400]],
      ['conflict', [400]],
      ['feature-not-implemented', [405, 501]], // note 1
      ['forbidden', [403, 603]], // note 2
      ['gone', [301, 410]], // note 3
      ['internal-server-error', [500]],
      ['item-not-found', [404, 604]], // note 2
      ['jid-malformed', [400]],
      ['not-acceptable', [406, 606]], // note 2
      ['not-allowed', [403]],
      ['not-authorized', [401]],
      ['policy-violation', [403]],
      ['recipient-unavailable', [480, 600]], // note 2
      ['redirect', [302]],
      ['registration-required', [407]],
      ['remote-server-not-found', [404, 408]], // note 4
      ['remote-server-timeout', [408]],
      ['resource-constraint', [500]],
      ['service-unavailable', [403, 405]], // note 5: no row code; 403 and 405 are "closest in meaning"
      ['subscription-required', [400]],
      ['undefined-condition', [400]],
      ['unexpected-request', [491, 400]],
    ];

    it('has a row for each of the 22 RFC 6120 conditions, as Table 2 does', () => {
      assert.equal(table.length, 22);
      assert.deepEqual(Object.keys(XMPP_TO_SIP).sort(), table.map(([c]) => c).sort());
    });

    for (const [condition, codes] of table) {
      it(`<${condition}/> → ${codes.join(' or ')}`, () => {
        for (const target of ['full', 'bare'] as const) {
          const got = xmppToSipStatus(condition, target);
          assert.ok(codes.includes(got), `${target} JID: ${got} is not in the RFC's ${codes.join('/')}`);
          if (codes.length === 1) assert.equal(got, codes[0]);
        }
      });
    }

    it('note 1: feature-not-implemented is 405 for a full JID, 501 for a bare JID', () => {
      assert.equal(xmppToSipStatus('feature-not-implemented', 'full'), 405);
      assert.equal(xmppToSipStatus('feature-not-implemented', 'bare'), 501);
    });

    const note2: [StanzaErrorCondition, number, number][] = [
      ['forbidden', 403, 603],
      ['item-not-found', 404, 604],
      ['not-acceptable', 406, 606],
      ['recipient-unavailable', 480, 600],
    ];
    for (const [condition, full, bare] of note2) {
      it(`note 2: <${condition}/> is ${full} for a full JID, ${bare} for a bare JID`, () => {
        assert.equal(xmppToSipStatus(condition, 'full'), full);
        assert.equal(xmppToSipStatus(condition, 'bare'), bare);
      });
    }

    it('note 3: gone is 301 when it names the new address, 410 when it does not', () => {
      for (const target of ['full', 'bare'] as const) {
        assert.equal(xmppToSipStatus('gone', target), 410);
        assert.equal(xmppToSipStatus('gone', target, { goneNewAddress: true }), 301);
      }
    });

    it('note 4: remote-server-not-found is 404 for a server that does not exist, 408 for one not resolved', () => {
      for (const target of ['full', 'bare'] as const) {
        assert.equal(xmppToSipStatus('remote-server-not-found', target), 404);
        assert.equal(xmppToSipStatus('remote-server-not-found', target, { remoteServerUnresolved: true }), 408);
      }
    });

    it('note 5: service-unavailable is never 503 (a SIP 503 would hold back every request to the gateway)', () => {
      for (const target of ['full', 'bare'] as const) {
        for (const methodUnsupported of [false, true]) {
          assert.notEqual(xmppToSipStatus('service-unavailable', target, { methodUnsupported }), 503);
        }
        assert.equal(xmppToSipStatus('service-unavailable', target), 403);
        assert.equal(xmppToSipStatus('service-unavailable', target, { methodUnsupported: true }), 405);
      }
      // No condition at all maps to 503 under any option.
      const all = { goneNewAddress: true, remoteServerUnresolved: true, methodUnsupported: true };
      for (const [condition] of table) {
        for (const target of ['full', 'bare'] as const) {
          assert.notEqual(xmppToSipStatus(condition, target), 503, condition);
          assert.notEqual(xmppToSipStatus(condition, target, all), 503, condition);
        }
      }
    });

    it('options only change the rows whose notes they stand for', () => {
      const all = { goneNewAddress: true, remoteServerUnresolved: true, methodUnsupported: true };
      for (const [condition] of table) {
        if (condition === 'gone' || condition === 'remote-server-not-found' || condition === 'service-unavailable') {
          continue;
        }
        for (const target of ['full', 'bare'] as const) {
          assert.equal(xmppToSipStatus(condition, target, all), xmppToSipStatus(condition, target), condition);
        }
      }
    });

    it('a 6xx code only ever answers for a bare JID', () => {
      for (const [condition] of table) assert.ok(xmppToSipStatus(condition, 'full') < 600, condition);
    });
  });

  describe('SIP → XMPP (§7.2, Table 3)', () => {
    // Every code row of Table 3, in the RFC's order (the class rows 3xx/4xx/5xx/6xx are tested below).
    const table: [number, StanzaErrorCondition][] = [
      [300, 'redirect'],
      [301, 'gone'],
      [302, 'redirect'],
      [305, 'redirect'],
      [380, 'not-acceptable'],
      [400, 'bad-request'],
      [401, 'not-authorized'],
      [402, 'bad-request'],
      [403, 'forbidden'],
      [404, 'item-not-found'],
      [405, 'feature-not-implemented'],
      [406, 'not-acceptable'],
      [407, 'registration-required'],
      [408, 'remote-server-timeout'],
      [410, 'gone'],
      [413, 'policy-violation'],
      [414, 'policy-violation'],
      [415, 'not-acceptable'],
      [416, 'not-acceptable'],
      [420, 'feature-not-implemented'],
      [421, 'not-acceptable'],
      [423, 'resource-constraint'],
      [430, 'recipient-unavailable'],
      [439, 'feature-not-implemented'],
      [440, 'policy-violation'],
      [480, 'recipient-unavailable'],
      [481, 'item-not-found'],
      [482, 'not-acceptable'],
      [483, 'not-acceptable'],
      [484, 'item-not-found'],
      [485, 'item-not-found'],
      [486, 'recipient-unavailable'],
      [487, 'recipient-unavailable'],
      [488, 'not-acceptable'],
      [489, 'policy-violation'],
      [491, 'unexpected-request'],
      [493, 'bad-request'],
      [500, 'internal-server-error'],
      [501, 'feature-not-implemented'],
      [502, 'remote-server-not-found'],
      [503, 'internal-server-error'],
      [504, 'remote-server-timeout'],
      [505, 'not-acceptable'],
      [513, 'policy-violation'],
      [600, 'recipient-unavailable'],
      [603, 'recipient-unavailable'],
      [604, 'item-not-found'],
      [606, 'not-acceptable'],
    ];
    const classRows: [string, StanzaErrorCondition][] = [
      ['3xx', 'redirect'],
      ['4xx', 'bad-request'],
      ['5xx', 'internal-server-error'],
      ['6xx', 'recipient-unavailable'],
    ];

    for (const [status, condition] of table) {
      it(`${status} → <${condition}/>`, () => assert.equal(sipToXmppCondition(status), condition));
    }

    it('lists exactly the codes of Table 3, no more', () => {
      assert.deepEqual(
        Object.keys(SIP_TO_XMPP).map(Number),
        table.map(([s]) => s),
      );
    });

    for (const [cls, condition] of classRows) {
      it(`${cls} codes the table does not list → <${condition}/>`, () => {
        const base = Number(cls[0]) * 100;
        const listed = new Set(table.map(([s]) => s));
        for (let s = base; s < base + 100; s++) {
          if (!listed.has(s)) assert.equal(sipToXmppCondition(s), condition, String(s));
        }
      });
    }

    it('503 is internal-server-error, not service-unavailable (note 9)', () => {
      assert.equal(sipToXmppCondition(503), 'internal-server-error');
      for (let s = 300; s < 700; s++) assert.notEqual(sipToXmppCondition(s), 'service-unavailable', String(s));
    });

    it('keeps the SIP status and phrase as the error text', () => {
      const e = sipFailure(486, 'Busy Here');
      assert.equal(e.condition, 'recipient-unavailable');
      assert.equal(e.type, 'wait');
      assert.equal(e.text, 'SIP 486 Busy Here');
      assert.equal(sipFailure(404).text, 'SIP 404 Not Found');
      const busy = sipFailure(503, 'Service Unavailable');
      assert.equal(busy.condition, 'internal-server-error');
      assert.equal(busy.text, 'SIP 503 Service Unavailable');
    });

    it('gives codes outside 300–699 undefined-condition', () => {
      for (const s of [100, 180, 200, 299, 700, 999]) assert.equal(sipToXmppCondition(s), 'undefined-condition');
    });
  });
});
