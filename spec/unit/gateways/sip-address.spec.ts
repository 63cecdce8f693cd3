// Unit tests of SIP addresses: URIs (RFC 3261 §19.1), RFC 7247 §6 JID ⇄ SIP URI, and the gateway's AddressCodec
// through the framework's XEP-0106 escaping (gateways/core/address.ts).
import assert from 'node:assert/strict';
import { AddressMapper } from '../../../gateways/core/address.js';
import {
  isGatewayHost,
  jidToSipUri,
  localUserFor,
  parseXmppUri,
  type RedirectSpace,
  redirectToSip,
  redirectToXmpp,
  sipAddressCodec,
  sipUriToJid,
  xmppUri,
} from '../../../gateways/sip/address.js';
import { formatSipUri, parseSipUri, percentDecode, percentEncode } from '../../../gateways/sip/uri.js';
import { Jid } from '../../../server/jid/index.js';

describe('SIP addresses', () => {
  describe('URIs (RFC 3261 §19.1)', () => {
    it('parses user, password, host, port, parameters and headers', () => {
      const u = parseSipUri('SIP:Alice%20B:pw@PBX.Example:5070;transport=TCP;lr?subject=hi');
      assert.equal(u?.scheme, 'sip');
      assert.equal(u?.user, 'Alice B');
      assert.equal(u?.password, 'pw');
      assert.equal(u?.host, 'pbx.example');
      assert.equal(u?.port, 5070);
      assert.equal(u?.params.get('transport'), 'TCP');
      assert.equal(u?.params.get('lr'), null);
      assert.equal(u?.headers, 'subject=hi');
    });
    it('parses IPv6 references and user-less URIs', () => {
      assert.equal(parseSipUri('sip:[::1]:5060')?.host, '[::1]');
      assert.equal(parseSipUri('sips:pbx.example')?.user, undefined);
    });
    it('rejects other schemes and malformed URIs', () => {
      for (const bad of [
        'tel:+1555',
        'sip:',
        'sip:a@',
        'sip:a@b c',
        'sip:a@h:99999',
        'sip:%zz@h',
        'sip:a@-h',
        'mailto:a@b',
      ]) {
        assert.equal(parseSipUri(bad), null, bad);
      }
    });
    it('percent-encodes exactly what the user part cannot hold', () => {
      assert.equal(percentEncode('a b@c;d?é'), 'a%20b%40c;d?%C3%A9');
      assert.equal(percentDecode('a%20b%40c'), 'a b@c');
      assert.equal(percentDecode('%C3'), null, 'invalid UTF-8 after decoding');
      assert.equal(formatSipUri(parseSipUri('sip:a%40b@h;gr=x%20y') ?? assert.fail()), 'sip:a%40b@h;gr=x%20y');
    });
  });

  describe('RFC 7247 §6 same-domain mapping', () => {
    it('maps a full JID to a SIP URI with the resource as GRUU', () => {
      assert.equal(jidToSipUri(Jid.parse('juliet@example.com/balcony')), 'sip:juliet@example.com;gr=balcony');
      assert.equal(jidToSipUri(Jid.parse('juliet@example.com')), 'sip:juliet@example.com');
      assert.equal(jidToSipUri(Jid.parse('a\\20b@example.com/x y')), 'sip:a%20b@example.com;gr=x%20y');
      for (const s of ['sip:a%20b@example.net', "sip:o'hara@example.net;gr=r1", 'sip:a%40b@example.net']) {
        assert.equal(jidToSipUri(sipUriToJid(s) ?? assert.fail(s)), s);
      }
    });
    it('maps a SIP URI to a JID, percent-decoding and escaping what a localpart cannot hold', () => {
      assert.equal(sipUriToJid('sip:romeo@example.net;gr=orchard')?.toString(), 'romeo@example.net/orchard');
      assert.equal(sipUriToJid('sip:Romeo@Example.NET')?.toString(), 'romeo@example.net');
      assert.equal(sipUriToJid('sip:a%20b@example.net')?.toString(), 'a\\20b@example.net');
      assert.equal(sipUriToJid('sip:o%27hara@example.net')?.toString(), 'o\\27hara@example.net');
      assert.equal(sipUriToJid('tel:+1555'), null);
      assert.equal(sipUriToJid('sip:x@[::1]'), null);
    });
    it('finds the XMPP user a request is for, through the gateway domain or an alias', () => {
      const uri = (s: string) => parseSipUri(s) ?? assert.fail(s);
      assert.equal(localUserFor(uri('sip:alice@localhost'), 'sip.localhost', [])?.toString(), 'alice@localhost');
      assert.equal(
        localUserFor(uri('sip:alice@sip.localhost'), 'sip.localhost', [], 'localhost')?.toString(),
        'alice@localhost',
      );
      assert.equal(
        localUserFor(uri('sip:alice@127.0.0.1'), 'sip.localhost', ['127.0.0.1'], 'localhost')?.toString(),
        'alice@localhost',
      );
      assert.equal(localUserFor(uri('sip:alice@sip.localhost'), 'sip.localhost', []), null);
      assert.ok(isGatewayHost('sip.localhost.', 'sip.localhost', []));
    });
  });

  describe('AddressCodec (XEP-0100 §6.3, XEP-0106 by the framework)', () => {
    const codec = sipAddressCodec();
    const mapper = new AddressMapper(codec, 'sip.example.com');
    it('maps sip:alice@pbx.example to alice\\40pbx.example@sip.example.com and back', () => {
      const jid = mapper.toJid('sip:alice@pbx.example');
      assert.equal(jid.toString(), 'alice\\40pbx.example@sip.example.com');
      assert.equal(mapper.fromJid(jid), 'sip:alice@pbx.example');
    });
    it('normalises what users type', () => {
      assert.equal(codec.parse('alice@PBX.example'), 'sip:alice@pbx.example');
      assert.equal(
        codec.parse('"Alice" <sip:alice@pbx.example;transport=TCP>;tag=1'),
        'sip:alice@pbx.example;transport=tcp',
      );
      assert.equal(codec.parse('sips:bob@pbx.example:5061'), 'sips:bob@pbx.example:5061');
      for (const bad of ['', 'alice', 'tel:+15551234', 'sip:pbx.example', 'xmpp:a@b', 'a@b c'])
        assert.equal(codec.parse(bad), null, bad);
    });
    it('round-trips awkward user parts, ports, transports and sips', () => {
      for (const id of [
        'sip:alice@pbx.example',
        'sip:a%20b@pbx.example',
        "sip:o'hara@pbx.example",
        'sip:bob@127.0.0.1:5070',
        'sip:bob@127.0.0.1:5070;transport=tcp',
        'sips:carol@pbx.example',
        'sip:a%40b@pbx.example',
        'sip:%C3%A9lise@pbx.example',
      ]) {
        const jid = mapper.toJid(id);
        assert.equal(mapper.fromJid(jid), codec.parse(id), `${id} → ${jid.toString()}`);
      }
    });
    it('names no address for localparts without a host', () => {
      for (const local of ['', 'alice', 'alice@', '@host', 'a@b c']) assert.equal(codec.fromLocal(local), null, local);
    });
  });

  describe('redirect addresses (RFC 5122 xmpp: URIs, RFC 7247 Tables 2 and 3 notes)', () => {
    const mapper = new AddressMapper(sipAddressCodec(), 'sip.example.com');
    const space: RedirectSpace = {
      gatewayDomain: 'sip.example.com',
      aliases: ['192.0.2.1'],
      xmppDomain: 'example.com',
      contactJid: (id) => mapper.tryToJid(id),
      contactId: (jid) => mapper.fromJid(jid),
    };

    it('writes and reads xmpp: URIs, percent-encoding the XEP-0106 backslash and non-ASCII text', () => {
      const jid = Jid.parse('bob\\40pbx.example\\3a5070@sip.example.com');
      assert.equal(xmppUri(jid), 'xmpp:bob%5C40pbx.example%5C3a5070@sip.example.com');
      assert.equal(parseXmppUri(xmppUri(jid))?.toString(), jid.toString());
      const full = Jid.parse('jürgen@example.com/tél');
      assert.equal(xmppUri(full), 'xmpp:j%C3%BCrgen@example.com/t%C3%A9l');
      assert.equal(parseXmppUri(xmppUri(full))?.toString(), full.toString());
      assert.equal(
        parseXmppUri('  xmpp://me@example.com/romeo@example.net?message;body=hi  ')?.toString(),
        'romeo@example.net',
      );
      for (const bad of ['sip:a@b', 'xmpp:', 'xmpp:%zz@example.com', 'xmpp:a@b@c'])
        assert.equal(parseXmppUri(bad), null, bad);
    });

    it("a 3xx Contact: a SIP peer's address becomes its contact JID on the gateway domain", () => {
      assert.equal(
        redirectToXmpp('<sip:carol@pbx.example:5070>;q=0.7', space),
        'xmpp:carol%5C40pbx.example%5C3a5070@sip.example.com',
      );
      assert.equal(
        redirectToXmpp('"Carol" <sip:carol@pbx.example;transport=tcp>', space),
        'xmpp:carol%5C40pbx.example%3Btransport%3Dtcp@sip.example.com',
      );
      assert.equal(redirectToXmpp('*', space), null);
      assert.equal(redirectToXmpp('<tel:+15551234>', space), null);
    });

    it("a 3xx Contact naming one of the gateway's own users becomes that XMPP user (RFC 7247 §6.2)", () => {
      assert.equal(redirectToXmpp('<sip:alice@sip.example.com>', space), 'xmpp:alice@example.com');
      assert.equal(redirectToXmpp('<sip:alice@192.0.2.1;gr=phone>', space), 'xmpp:alice@example.com/phone');
      assert.equal(redirectToXmpp('<sip:alice@example.com>', space), 'xmpp:alice@example.com');
    });

    it('a <gone/> or <redirect/> address: a contact JID is its SIP address, another JID its RFC 7247 §6.1 form', () => {
      assert.equal(redirectToSip('xmpp:carol%5C40pbx.example@sip.example.com', space), 'sip:carol@pbx.example');
      assert.equal(redirectToSip('xmpp:romeo@afterlife.example.net', space), 'sip:romeo@afterlife.example.net');
      assert.equal(redirectToSip('xmpp:romeo@example.com/orchard', space), 'sip:romeo@example.com;gr=orchard');
      assert.equal(redirectToSip('xmpp:sip.example.com', space), null);
      assert.equal(redirectToSip('https://example.com/', space), null);
    });
  });
});
