// Table tests of the RFC 7247 §7 error mapping, both ways (gateways/sip/errors.ts).
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
  describe('XMPP → SIP (§7.1)', () => {
    const table: [StanzaErrorCondition, number, number][] = [
      // condition, full JID (4xx), bare JID (6xx where the RFC offers one)
      ['bad-request', 400, 400],
      ['conflict', 400, 400],
      ['feature-not-implemented', 501, 501],
      ['forbidden', 403, 603],
      ['gone', 410, 410],
      ['internal-server-error', 500, 500],
      ['item-not-found', 404, 604],
      ['jid-malformed', 400, 400],
      ['not-acceptable', 406, 606],
      ['not-allowed', 405, 405],
      ['not-authorized', 401, 401],
      ['policy-violation', 403, 603],
      ['recipient-unavailable', 480, 600],
      ['redirect', 302, 302],
      ['registration-required', 400, 400],
      ['remote-server-not-found', 404, 604],
      ['remote-server-timeout', 408, 408],
      ['resource-constraint', 500, 500],
      ['service-unavailable', 403, 403],
      ['subscription-required', 400, 400],
      ['undefined-condition', 400, 400],
      ['unexpected-request', 400, 400],
    ];
    for (const [condition, full, bare] of table) {
      it(`<${condition}/> → ${full} (full JID), ${bare} (bare JID)`, () => {
        assert.equal(xmppToSipStatus(condition, 'full'), full);
        assert.equal(xmppToSipStatus(condition, 'bare'), bare);
      });
    }
    it('covers every RFC 6120 condition', () => {
      assert.equal(Object.keys(XMPP_TO_SIP).length, table.length);
    });
    it('never turns service-unavailable into 503 (a 503 means the whole server is down)', () => {
      for (const target of ['full', 'bare'] as const) {
        assert.notEqual(xmppToSipStatus('service-unavailable', target), 503);
        assert.equal(xmppToSipStatus('service-unavailable', target, { methodUnsupported: true }), 405);
      }
      for (const codes of Object.values(XMPP_TO_SIP)) assert.ok(codes.full !== 503 && codes.bare !== 503);
    });
    it('uses 4xx for full JIDs and 6xx only for bare JIDs', () => {
      for (const [condition, codes] of Object.entries(XMPP_TO_SIP)) {
        assert.ok(codes.full < 600, `${condition} full`);
      }
    });
  });

  describe('SIP → XMPP (§7.2)', () => {
    const table: [number, StanzaErrorCondition][] = [
      [301, 'gone'],
      [302, 'redirect'],
      [400, 'bad-request'],
      [401, 'not-authorized'],
      [403, 'forbidden'],
      [404, 'item-not-found'],
      [405, 'feature-not-implemented'],
      [406, 'not-acceptable'],
      [407, 'registration-required'],
      [408, 'remote-server-timeout'],
      [410, 'gone'],
      [413, 'policy-violation'],
      [414, 'jid-malformed'],
      [415, 'bad-request'],
      [416, 'jid-malformed'],
      [480, 'recipient-unavailable'],
      [481, 'item-not-found'],
      [482, 'not-acceptable'],
      [484, 'item-not-found'],
      [485, 'item-not-found'],
      [486, 'recipient-unavailable'],
      [488, 'not-acceptable'],
      [489, 'policy-violation'],
      [491, 'unexpected-request'],
      [500, 'internal-server-error'],
      [501, 'feature-not-implemented'],
      [502, 'remote-server-not-found'],
      [503, 'service-unavailable'],
      [504, 'remote-server-timeout'],
      [505, 'not-acceptable'],
      [513, 'policy-violation'],
      [600, 'service-unavailable'],
      [603, 'service-unavailable'],
      [604, 'item-not-found'],
      [606, 'not-acceptable'],
    ];
    for (const [status, condition] of table) {
      it(`${status} → <${condition}/>`, () => assert.equal(sipToXmppCondition(status), condition));
    }
    it('maps unknown codes by class (RFC 3261 §8.1.3.2)', () => {
      assert.equal(sipToXmppCondition(399), 'redirect');
      assert.equal(sipToXmppCondition(499), 'bad-request');
      assert.equal(sipToXmppCondition(599), 'internal-server-error');
      assert.equal(sipToXmppCondition(699), 'service-unavailable');
    });
    it('only maps failure codes', () => {
      for (const code of Object.keys(SIP_TO_XMPP).map(Number)) assert.ok(code >= 300 && code < 700);
    });
    it('keeps the SIP status and phrase as the error text', () => {
      const e = sipFailure(486, 'Busy Here');
      assert.equal(e.condition, 'recipient-unavailable');
      assert.equal(e.type, 'wait');
      assert.equal(e.text, 'SIP 486 Busy Here');
      assert.equal(sipFailure(404).text, 'SIP 404 Not Found');
    });
  });
});
