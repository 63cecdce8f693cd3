// Unit tests of the SIP gateway's presence and message mapping: PIDF (RFC 3863) with RPID (RFC 4480) as RFC 8048
// maps it, and MESSAGE bodies and headers as RFC 7572 maps them (gateways/sip/pidf.ts, im.ts).
import assert from 'node:assert/strict';
import { fromSipIm, mediaType, splitUtf8, toSipIm } from '../../../gateways/sip/im.js';
import { SipHeaders } from '../../../gateways/sip/message.js';
import { buildPidf, NS_PIDF, parsePidf, xsId } from '../../../gateways/sip/pidf.js';
import { parseXml } from '../../../server/xml/element.js';

const doc = (inner: string, extra = '') =>
  Buffer.from(
    `<?xml version="1.0" encoding="UTF-8"?>\n<presence xmlns="${NS_PIDF}" ${extra} entity="sip:bob@example.net">${inner}</presence>`,
  );
const tuple = (basic: string, inner = '', id = 't1') =>
  `<tuple id="${id}"><status><basic>${basic}</basic></status>${inner}</tuple>`;

describe('SIP presence mapping (RFC 8048, RFC 3863, RFC 4480)', () => {
  describe('XMPP → PIDF', () => {
    it('writes open, the jabber:client show, the note and RPID activities', () => {
      const xmlText = buildPidf('sip:alice@localhost', [
        { resource: 'phone', presence: { available: true, show: 'dnd', status: 'in a meeting' } },
      ]).toString();
      const root = parseXml(xmlText.replace(/^<\?xml[^>]*>\s*/, ''));
      assert.equal(root.attrs.entity, 'sip:alice@localhost');
      const t = root.getChild('tuple', NS_PIDF);
      assert.equal(t?.getChild('status')?.getChildText('basic'), 'open');
      assert.equal(t?.getChild('show', 'jabber:client')?.getText(), 'dnd');
      assert.equal(t?.getChildText('note'), 'in a meeting');
      const person = root.getChild('person', 'urn:ietf:params:xml:ns:pidf:data-model');
      const acts = person?.getChild('activities', 'urn:ietf:params:xml:ns:pidf:rpid');
      assert.equal(acts?.getChildElements()[0]?.getName(), 'busy');
    });
    it('writes closed for unavailable, without activities', () => {
      const text = buildPidf('sip:alice@localhost', [{ presence: { available: false, status: 'bye' } }]).toString();
      assert.match(text, /<basic>closed<\/basic>/);
      assert.match(text, /<note>bye<\/note>/);
      assert.doesNotMatch(text, /activities/);
    });
    it('writes one tuple per resource with xs:ID ids that never start with a digit', () => {
      const text = buildPidf('sip:alice@localhost', [
        { resource: '1phone', presence: { available: true } },
        { resource: 'desk top/é', presence: { available: false } },
      ]).toString();
      const ids = [...text.matchAll(/<tuple id="([^"]+)"/g)].map((m) => m[1] ?? '');
      assert.equal(ids.length, 2);
      for (const id of ids) assert.match(id, /^[A-Za-z_][A-Za-z0-9._-]*$/);
      assert.notEqual(ids[0], ids[1]);
      assert.notEqual(xsId('t', 'a b'), xsId('t', 'a_b'), 'distinct resources keep distinct ids');
    });
    it('escapes XML in the status text', () => {
      const text = buildPidf('sip:a@b', [{ presence: { available: true, status: '<x>&"' } }]).toString();
      assert.equal(parsePidf(Buffer.from(text))?.presence.status, '<x>&"');
    });
  });

  describe('PIDF → XMPP', () => {
    it('reads open/closed and the note', () => {
      assert.deepEqual(parsePidf(doc(tuple('open', '<note>hi</note>')))?.presence, { available: true, status: 'hi' });
      assert.deepEqual(parsePidf(doc(tuple('closed')))?.presence, { available: false });
    });
    it('prefers the jabber:client show over RPID activities', () => {
      const p = parsePidf(
        doc(
          tuple('open', '<show xmlns="jabber:client">xa</show>') +
            '<dm:person id="p1"><rpid:activities><rpid:busy/></rpid:activities></dm:person>',
          'xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" xmlns:rpid="urn:ietf:params:xml:ns:pidf:rpid"',
        ),
      );
      assert.equal(p?.presence.show, 'xa');
    });
    it('reads RPID activities by namespace, whatever the prefix', () => {
      const cases: [string, string | undefined][] = [
        ['away', 'away'],
        ['busy', 'dnd'],
        ['on-the-phone', 'dnd'],
        ['vacation', 'xa'],
        ['unknown', undefined],
      ];
      for (const [activity, show] of cases) {
        const p = parsePidf(
          doc(
            `${tuple('open')}<x:person xmlns:x="urn:ietf:params:xml:ns:pidf:data-model" id="p"><r:activities xmlns:r="urn:ietf:params:xml:ns:pidf:rpid"><r:${activity}/></r:activities></x:person>`,
          ),
        );
        assert.equal(p?.presence.show, show, activity);
      }
      // A prefix bound to another namespace is not RPID, whatever it is called.
      const fake = parsePidf(
        doc(
          `${tuple('open')}<dm:person xmlns:dm="urn:ietf:params:xml:ns:pidf:data-model" id="p"><rpid:activities xmlns:rpid="urn:example:not-rpid"><rpid:away/></rpid:activities></dm:person>`,
        ),
      );
      assert.equal(fake?.presence.show, undefined);
    });
    it('aggregates several tuples: open wins, its note first', () => {
      const p = parsePidf(doc(tuple('closed', '<note>old</note>', 'a') + tuple('open', '<note>here</note>', 'b')));
      assert.deepEqual(p?.presence, { available: true, status: 'here' });
      assert.equal(p?.tuples.length, 2);
    });
    it('round-trips what it writes', () => {
      for (const presence of [
        { available: true },
        { available: true, show: 'away' as const, status: 'lunch' },
        { available: true, show: 'dnd' as const },
        { available: false, status: 'gone' },
      ]) {
        assert.deepEqual(parsePidf(buildPidf('sip:a@b', [{ presence }]))?.presence, presence);
      }
    });
    it('rejects what is not PIDF: other roots, DTDs, comments, invalid UTF-8, trailing text, huge documents', () => {
      for (const bad of [
        Buffer.from('<presence xmlns="urn:other"/>'),
        Buffer.from('<!DOCTYPE x [<!ENTITY a "b">]><presence xmlns="urn:ietf:params:xml:ns:pidf"/>'),
        doc('<!-- c -->'),
        Buffer.concat([doc(''), Buffer.from([0xff])]),
        Buffer.from(`${doc('').toString()} trailing`),
        doc(tuple('open').repeat(2000)),
        Buffer.from('not xml'),
      ]) {
        assert.equal(parsePidf(bad), null, bad.toString().slice(0, 60));
      }
    });
  });
});

describe('SIP message mapping (RFC 7572, RFC 3428)', () => {
  it('maps an XMPP message to text/plain with Subject, Content-Language and the thread as Call-ID', () => {
    const im = toSipIm({ body: 'héllo', subject: 'greet\r\nX: y', lang: 'fr', thread: 'th-1@x' });
    assert.equal(im.contentType, 'text/plain;charset=UTF-8');
    assert.equal(im.body.toString('utf8'), 'héllo');
    assert.equal(im.subject, 'greet X: y');
    assert.equal(im.language, 'fr');
    assert.equal(im.callId, 'th-1@x');
    assert.equal(toSipIm({ body: 'x', thread: 'has space', lang: 'not a tag!' }).callId, undefined);
  });
  it('maps a SIP MESSAGE to an XMPP message of type normal', () => {
    const h = new SipHeaders([
      ['Content-Type', 'text/plain; charset="UTF-8"'],
      ['Subject', 'hi'],
      ['Content-Language', 'de, en'],
      ['Call-ID', 'abc@h'],
    ]);
    const r = fromSipIm(h, Buffer.from('grüß dich\u0001'));
    assert.ok(r.ok && r.message);
    assert.deepEqual(r.message, {
      body: 'grüß dich\uFFFD',
      type: 'normal',
      subject: 'hi',
      lang: 'de',
      thread: 'abc@h',
    });
  });
  it('refuses other media types (415) and invalid UTF-8 (400); accepts isComposing silently', () => {
    const ct = (v: string) => new SipHeaders([['Content-Type', v]]);
    assert.deepEqual(fromSipIm(ct('text/html'), Buffer.from('<b>x</b>')).ok, false);
    const r415 = fromSipIm(ct('text/html'), Buffer.from('x'));
    assert.ok(!r415.ok && r415.status === 415);
    const r400 = fromSipIm(ct('text/plain'), Buffer.from([0xc3, 0x28]));
    assert.ok(!r400.ok && r400.status === 400);
    const latin = fromSipIm(ct('text/plain;charset=ISO-8859-1'), Buffer.from('x'));
    assert.ok(!latin.ok && latin.status === 415);
    const composing = fromSipIm(ct('application/im-iscomposing+xml'), Buffer.from('<x/>'));
    assert.ok(composing.ok && composing.message === null);
    assert.deepEqual(mediaType(undefined), { type: 'text/plain' });
  });
  it('splits long bodies at code points, preferring spaces', () => {
    const text = `${'word '.repeat(400)}ééé`;
    const parts = splitUtf8(text, 1000);
    assert.equal(parts.join(''), text);
    for (const p of parts) assert.ok(Buffer.byteLength(p) <= 1000);
    assert.ok(parts[0]?.endsWith(' '));
    const emoji = '😀'.repeat(600);
    const ep = splitUtf8(emoji, 1001);
    assert.equal(ep.join(''), emoji);
    for (const p of ep) assert.ok(Buffer.byteLength(p) <= 1001 && !p.includes('\uFFFD'));
  });
});
