// Bad XML on a client stream: each case must end in the exact RFC 6120 §4.9.3 stream error, preceded by the
// server's stream header and followed by '</stream:stream>' and the TCP close, with nothing delivered to others.
import assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import {
  expectServerAlive,
  expectStreamError,
  messages,
  RawStream,
  STREAM_HEADER_ATTRS,
  streamHeader,
} from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const LIMIT = 10_000; // RFC 6120 §13.12: the smallest stanza size a server may impose

describe('bad input: XML on a client stream', function () {
  this.timeout(15_000);
  let ts: TestServer;
  let bob: RawStream;

  before(async () => {
    ts = await startTestServer({ yaml: `limits: { c2s_stanza_bytes: ${LIMIT} }` });
    await ts.addUser('alice', 'alice-pw');
    await ts.addUser('bob', 'bob-pw');
    bob = await RawStream.login(ts.port, 'bob', 'bob-pw', { resource: 'victim', presence: true });
  });

  after(async () => {
    bob?.close();
    await ts?.stop();
  });

  /** A plaintext stream whose header has been answered with features. */
  async function opened(): Promise<RawStream> {
    const s = await RawStream.connect({ port: ts.port });
    await s.open();
    return s;
  }

  const alice = () => RawStream.login(ts.port, 'alice', 'alice-pw');

  describe('not-well-formed (RFC 6120 §4.9.3.13)', () => {
    it('refuses mismatched tags before authentication', async () => {
      const s = await opened();
      s.send("<iq type='get' id='m1'><query xmlns='jabber:iq:version'></iq>");
      await expectStreamError(s, 'not-well-formed');
      assert.equal(
        s.find((el) => el.attrs.id === 'm1'),
        undefined,
        'the broken iq was not answered',
      );
    });

    it('refuses an unquoted attribute in the stream header, after sending its own header', async () => {
      const s = await RawStream.connect({ port: ts.port });
      s.send(`<?xml version='1.0'?><stream:stream to=localhost ${STREAM_HEADER_ATTRS}>`);
      await expectStreamError(s, 'not-well-formed');
    });

    const afterAuth: [string, string][] = [
      ['mismatched tags', "<message to='bob@localhost' type='chat'><body>leak</message>"],
      ['a duplicate attribute', "<message to='bob@localhost' type='chat' type='normal'><body>leak</body></message>"],
      ['an unquoted attribute value', "<message to=bob@localhost type='chat'><body>leak</body></message>"],
      ['an attribute without a value', "<message to='bob@localhost' checked><body>leak</body></message>"],
      ["a '<' in an attribute value", "<message to='bob@localhost' id='a<b'><body>leak</body></message>"],
      ["a bare '&' in text", "<message to='bob@localhost'><body>leak & more</body></message>"],
      ['text outside a stanza', "leak<message to='bob@localhost'><body>leak</body></message>"],
      ['a forbidden control character', "<message to='bob@localhost'><body>leak\u0001</body></message>"],
      ['a character reference to a forbidden character', "<message to='bob@localhost'><body>&#0;leak</body></message>"],
    ];
    for (const [what, bytes] of afterAuth) {
      it(`refuses ${what} after authentication, and delivers nothing`, async () => {
        const s = await alice();
        s.send(bytes);
        await expectStreamError(s, 'not-well-formed');
      });
    }
  });

  describe('unsupported-encoding (RFC 6120 §11.6, §4.9.3.22)', () => {
    const body = (bytes: number[]) =>
      Buffer.concat([
        Buffer.from("<message to='bob@localhost' type='chat'><body>leak"),
        Buffer.from(bytes),
        Buffer.from('</body></message>'),
      ]);
    const cases: [string, Buffer][] = [
      ['a byte that never occurs in UTF-8 (0xFF)', body([0xff])],
      ['an overlong encoding of "/" (0xC0 0xAF)', body([0xc0, 0xaf])],
      ['an encoded UTF-16 surrogate (0xED 0xA0 0x80)', body([0xed, 0xa0, 0x80])],
      ['a truncated sequence (0xE2 0x82 then "<")', body([0xe2, 0x82])],
      ['a code point above U+10FFFF (0xF4 0x90 0x80 0x80)', body([0xf4, 0x90, 0x80, 0x80])],
    ];
    for (const [what, bytes] of cases) {
      it(`refuses ${what} in a stanza after authentication`, async () => {
        const s = await alice();
        s.send(bytes);
        await expectStreamError(s, 'unsupported-encoding');
      });
    }

    it('refuses a bad continuation byte that arrives in a later packet', async () => {
      const s = await alice();
      s.send(Buffer.from([...Buffer.from("<message to='bob@localhost'><body>leak"), 0xc3]));
      await sleep(50);
      s.send(Buffer.from([0x28, ...Buffer.from('</body></message>')]));
      await expectStreamError(s, 'unsupported-encoding');
    });

    it('refuses invalid UTF-8 in the stream header, before authentication', async () => {
      const s = await RawStream.connect({ port: ts.port });
      s.send(Buffer.concat([Buffer.from("<?xml version='1.0'?><stream:stream to='local"), Buffer.from([0xfe])]));
      await expectStreamError(s, 'unsupported-encoding');
    });

    it('refuses an XML declaration naming another encoding', async () => {
      const s = await RawStream.connect({ port: ts.port });
      s.send(`<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream to='localhost' ${STREAM_HEADER_ATTRS}>`);
      await expectStreamError(s, 'unsupported-encoding');
    });
  });

  describe('policy-violation for oversized input (RFC 6120 §13.12, §4.9.3.16)', () => {
    it('still delivers a stanza just under the limit', async () => {
      const s = await alice();
      const filler = 'k'.repeat(LIMIT - 200);
      s.send(`<message to='bob@localhost/victim' type='chat' id='big-ok'><body>${filler}</body></message>`);
      const got = await bob.waitElement((el) => el.attrs.id === 'big-ok', 'the large message');
      assert.equal(got.getChildText('body'), filler);
      s.close();
    });

    /** Sends `head`, then `piece` repeatedly with pauses, until the stream closes; the stanza is never ended. */
    async function trickle(s: RawStream, head: string, piece: string): Promise<number> {
      let sent = Buffer.byteLength(head);
      s.send(head);
      for (let i = 0; i < 100 && !s.socketClosed && !s.streamError(); i++) {
        await sleep(5);
        s.send(piece);
        sent += Buffer.byteLength(piece);
      }
      await expectStreamError(s, 'policy-violation');
      return sent;
    }

    it('refuses a body that grows past the limit while it is still being sent', async () => {
      const s = await alice();
      const sent = await trickle(s, "<message to='bob@localhost' type='chat'><body>leak", 'x'.repeat(500));
      assert.ok(sent > LIMIT, `not refused before the limit (${sent} bytes sent)`);
      // Refused soon after the limit, long before the 50,000 bytes the sender would have sent.
      assert.ok(sent < 3 * LIMIT, `refused only after ${sent} bytes`);
    });

    it('refuses a start tag whose attribute value never ends', async () => {
      const s = await alice();
      const sent = await trickle(s, "<message to='bob@localhost' type='chat' id='", 'y'.repeat(500));
      assert.ok(sent > LIMIT && sent < 3 * LIMIT, `${sent} bytes sent`);
    });

    it('refuses multi-byte text by its size in bytes', async () => {
      const s = await alice();
      // 'é' is two bytes in UTF-8: 5,500 characters are 11,000 bytes, over the limit only when counted in bytes.
      s.send(`<message to='bob@localhost/victim' type='chat'><body>leak${'é'.repeat(5500)}</body></message>`);
      await expectStreamError(s, 'policy-violation');
    });

    it('refuses a stream header that never ends, before authentication', async () => {
      const s = await RawStream.connect({ port: ts.port });
      const sent = await trickle(s, "<?xml version='1.0'?><stream:stream to='localhost' id='", 'z'.repeat(500));
      assert.ok(sent < 3 * 8192, `refused only after ${sent} bytes`); // the framer's default header limit
    });
  });

  describe('restricted-xml (RFC 6120 §11.1, §4.9.3.18)', () => {
    const beforeHeader: [string, string][] = [
      ['a DOCTYPE before the stream header', "<?xml version='1.0'?><!DOCTYPE stream:stream [<!ENTITY x 'y'>]>"],
      ['a comment before the stream header', "<?xml version='1.0'?><!-- hello -->"],
      ['a processing instruction before the stream header', "<?xml version='1.0'?><?xml-stylesheet href='a'?>"],
    ];
    for (const [what, bytes] of beforeHeader) {
      it(`refuses ${what}`, async () => {
        const s = await RawStream.connect({ port: ts.port });
        s.send(bytes + streamHeader());
        await expectStreamError(s, 'restricted-xml');
      });
    }

    const inStream: [string, string][] = [
      ['an internal entity declaration', "<!ENTITY xxe 'leak'>"],
      ['a DOCTYPE between stanzas', '<!DOCTYPE message>'],
      ['a processing instruction between stanzas', "<?foo bar='1'?>"],
      ['a second XML declaration', "<?xml version='1.0'?>"],
      ['a comment between stanzas', '<!-- hello -->'],
      ['an undefined entity reference in text', "<message to='bob@localhost'><body>&xxe;leak</body></message>"],
      [
        'an undefined entity reference in an attribute',
        "<message to='bob@localhost' id='&xxe;'><body>leak</body></message>",
      ],
      ['a comment inside a stanza', "<message to='bob@localhost'><body>leak</body><!-- x --></message>"],
      ['a processing instruction inside a stanza', "<message to='bob@localhost'><body>leak</body><?php x?></message>"],
    ];
    for (const [what, bytes] of inStream) {
      it(`refuses ${what} before authentication`, async () => {
        const s = await opened();
        s.send(bytes);
        await expectStreamError(s, 'restricted-xml');
      });
      it(`refuses ${what} after authentication`, async () => {
        const s = await alice();
        s.send(bytes);
        await expectStreamError(s, 'restricted-xml');
      });
    }

    it('accepts the predefined entities, character references and CDATA', async () => {
      const s = await alice();
      s.send(
        "<message to='bob@localhost/victim' id='ents' type='chat'><body>&lt;&amp;&gt;&quot;&apos;&#x263A;&#65;<![CDATA[<x/>]]></body></message>",
      );
      const got = await bob.waitElement((el) => el.attrs.id === 'ents', 'the message with entities');
      assert.equal(got.getChildText('body'), `<&>"'\u263aA<x/>`);
      s.close();
    });
  });

  // Mocha runs a describe's own tests before its nested describes, so this one sits in a describe of its own.
  describe('afterwards', () => {
    it('delivered none of the refused stanzas, and still accepts logins', async () => {
      await bob.sync();
      const leaked = messages(bob).filter((m) => (m.getChildText('body') ?? '').includes('leak'));
      assert.deepEqual(
        leaked.map((m) => m.toString()),
        [],
      );
      assert.ok(!bob.socketClosed, 'the bystander stayed connected');
      await expectServerAlive(ts.port, 'alice', 'alice-pw');
    });
  });
});
