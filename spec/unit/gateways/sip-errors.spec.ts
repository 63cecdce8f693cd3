// Table tests of the RFC 7247 §7 error mapping, both ways (gateways/sip/errors.ts). The expected values are RFC 7247's
// own tables (§7.1 Table 2, §7.2 Table 3, May 2014) typed in row by row, with the choices its notes make: they are
// data from the RFC, not read back from the implementation.
import assert from 'node:assert/strict';
import {
  type AnswerContext,
  SIP_TO_XMPP,
  sipAnswer,
  sipFailure,
  sipToXmppCondition,
  XMPP_TO_SIP,
  xmppToSipStatus,
} from '../../../gateways/sip/errors.js';
import { SipHeaders } from '../../../gateways/sip/message.js';
import { permanentRegistrarFailure, registrationError } from '../../../gateways/sip/register.js';
import { StanzaError, type StanzaErrorCondition } from '../../../server/errors/index.js';

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

  describe('answers to SIP requests the XMPP side refused (sipAnswer)', () => {
    const ctx: AnswerContext = {
      method: 'MESSAGE',
      allow: ['MESSAGE', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'OPTIONS'],
      contactFor: (uri) => (uri === 'xmpp:carol@example.com' ? 'sip:carol@example.com' : null),
    };
    const conditions = Object.keys(XMPP_TO_SIP) as StanzaErrorCondition[];
    const header = (a: ReturnType<typeof sipAnswer>, name: string) => a.headers.find(([k]) => k === name)?.[1];

    it('follows Table 2 except where RFC 3261 needs more; never 503, never 401 or 407 without a challenge', () => {
      for (const condition of conditions) {
        for (const target of ['full', 'bare'] as const) {
          const a = sipAnswer(new StanzaError(condition), target, ctx);
          assert.notEqual(a.status, 503, condition);
          assert.ok(a.status !== 401 && a.status !== 407, `${condition}: ${a.status}`);
          const table = xmppToSipStatus(condition, target);
          if (table !== 401 && table !== 407) assert.equal(a.status, table, `${condition} (${target})`);
        }
      }
    });

    it('not-authorized and registration-required → 403: credentials for the gateway cannot help (§21.4.4)', () => {
      for (const condition of ['not-authorized', 'registration-required'] as const) {
        const a = sipAnswer(new StanzaError(condition), 'bare', ctx);
        assert.equal(a.status, 403);
        assert.equal(header(a, 'WWW-Authenticate'), undefined);
        assert.equal(header(a, 'Proxy-Authenticate'), undefined);
        assert.match(a.reason, new RegExp(`^Forbidden \\(${condition}\\)$`));
      }
    });

    it('405 carries Allow with the methods still valid for the address (RFC 3261 §21.4.6)', () => {
      const a = sipAnswer(StanzaError.featureNotImplemented(), 'full', ctx);
      assert.equal(a.status, 405);
      assert.equal(header(a, 'Allow'), 'SUBSCRIBE, NOTIFY, PUBLISH, OPTIONS');
      assert.equal(header(sipAnswer(StanzaError.featureNotImplemented(), 'bare', ctx), 'Allow'), undefined); // 501
      assert.equal(header(sipAnswer(StanzaError.forbidden(), 'full', ctx), 'Allow'), undefined);
    });

    it('<gone/> with an address that has a SIP form → 301 with Contact; without one → 410 (note 3)', () => {
      const moved = sipAnswer(new StanzaError('gone', undefined, { uri: 'xmpp:carol@example.com' }), 'bare', ctx);
      assert.equal(moved.status, 301);
      assert.equal(header(moved, 'Contact'), '<sip:carol@example.com>');
      assert.equal(sipAnswer(new StanzaError('gone'), 'bare', ctx).status, 410);
      const unusable = sipAnswer(new StanzaError('gone', undefined, { uri: 'mailto:carol@example.com' }), 'bare', ctx);
      assert.equal(unusable.status, 410);
      assert.equal(header(unusable, 'Contact'), undefined);
    });

    it('<redirect/> → 302, with Contact when its address has a SIP form', () => {
      const r = sipAnswer(new StanzaError('redirect', undefined, { uri: 'xmpp:carol@example.com' }), 'bare', ctx);
      assert.equal(r.status, 302);
      assert.equal(header(r, 'Contact'), '<sip:carol@example.com>');
      assert.equal(header(sipAnswer(new StanzaError('redirect'), 'bare', ctx), 'Contact'), undefined);
    });

    it('puts the condition and <text/> in a one-line Reason-Phrase', () => {
      const a = sipAnswer(new StanzaError('resource-constraint', 'store\r\nfull\u0000'), 'bare', ctx);
      assert.equal(a.status, 500);
      assert.equal(a.reason, 'Server Internal Error (resource-constraint: store full)');
      assert.ok(sipAnswer(new StanzaError('bad-request', 'x'.repeat(500)), 'bare', ctx).reason.length < 160);
    });
  });

  describe('3xx addresses and registrar failures', () => {
    it('sipFailure: 301 → <gone/> and 300/302 → <redirect/> with the new address; 305 and 410 without', () => {
      assert.equal(sipFailure(301, 'Moved', 'xmpp:a@b').uri, 'xmpp:a@b');
      assert.equal(sipFailure(302, 'Moved', 'xmpp:a@b').uri, 'xmpp:a@b');
      assert.equal(sipFailure(300, 'Choices', 'xmpp:a@b').uri, 'xmpp:a@b');
      assert.equal(sipFailure(305, 'Use Proxy', 'xmpp:a@b').uri, undefined);
      assert.equal(sipFailure(410, 'Gone', 'xmpp:a@b').uri, undefined);
      assert.equal(sipFailure(301, 'Moved').uri, undefined);
      const el = sipFailure(301, 'Moved', 'xmpp:a@b').toElement();
      assert.equal(el.getChild('gone')?.getText(), 'xmpp:a@b');
    });

    const res = (status: number, reason = '') => ({
      kind: 'response' as const,
      status,
      reason,
      headers: new SipHeaders(),
      body: Buffer.alloc(0),
    });

    it('a registrar failure takes the Table 3 condition (XEP-0100 login failure), the code as text', () => {
      for (const status of [400, 401, 403, 404, 407, 408, 480, 486, 500, 503, 504, 600, 603, 604]) {
        const e = registrationError(res(status));
        assert.equal(e.condition, sipToXmppCondition(status), String(status));
      }
      assert.equal(registrationError(res(503)).condition, 'internal-server-error');
      assert.equal(registrationError(res(403, 'Forbidden')).message, 'registrar answered 403 Forbidden');
    });

    it('refused credentials and unknown addresses are permanent; outages are retried with backoff', () => {
      for (const s of [401, 403, 407, 404, 600, 603, 604]) assert.equal(permanentRegistrarFailure(s), true, String(s));
      for (const s of [408, 480, 500, 502, 503, 504, 400, 486])
        assert.equal(permanentRegistrarFailure(s), false, String(s));
      assert.equal(registrationError(res(401)).permanent, true);
      assert.equal(registrationError(res(503)).permanent, false);
    });
  });
});
