// Unit tests of the SIP message codec (gateways/sip/message.ts, framing.ts, syntax.ts): RFC 3261 §7 start lines,
// folding and compact forms, mandatory headers, limits, datagram and stream framing.
import assert from 'node:assert/strict';
import { SipStreamFramer } from '../../../gateways/sip/framing.js';
import {
  canonicalName,
  DEFAULT_LIMITS,
  parseDatagram,
  SipHeaders,
  SipParseError,
  serialize,
} from '../../../gateways/sip/message.js';
import { parseCSeq, parseNameAddr, parseParams, parseVia, splitList } from '../../../gateways/sip/syntax.js';

const MESSAGE = [
  'MESSAGE sip:alice@localhost SIP/2.0',
  'Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK776asdhds;rport',
  'Max-Forwards: 70',
  'To: <sip:alice@localhost>',
  'From: "Bob" <sip:bob@127.0.0.1:5070>;tag=1928301774',
  'Call-ID: a84b4c76e66710@127.0.0.1',
  'CSeq: 1 MESSAGE',
  'Content-Type: text/plain',
  'Content-Length: 5',
  '',
  'hello',
].join('\r\n');

const status = (f: () => unknown): number => {
  try {
    f();
  } catch (err) {
    if (err instanceof SipParseError) return err.status;
    throw err;
  }
  return 0;
};

describe('SIP message codec (RFC 3261 §7)', () => {
  it('parses a request and round-trips it', () => {
    const m = parseDatagram(Buffer.from(MESSAGE));
    assert.equal(m.kind, 'request');
    if (m.kind !== 'request') return;
    assert.equal(m.method, 'MESSAGE');
    assert.equal(m.uri, 'sip:alice@localhost');
    assert.equal(m.headers.get('call-id'), 'a84b4c76e66710@127.0.0.1');
    assert.equal(m.body.toString(), 'hello');
    const again = parseDatagram(serialize(m));
    assert.deepEqual(again.headers.entries(), m.headers.entries());
  });

  it('parses a response with an empty reason phrase', () => {
    const text = MESSAGE.replace('MESSAGE sip:alice@localhost SIP/2.0', 'SIP/2.0 200 ').replace(/hello$/, '');
    const m = parseDatagram(Buffer.from(text.replace('Content-Length: 5', 'Content-Length: 0')));
    assert.equal(m.kind, 'response');
    if (m.kind === 'response') assert.equal(m.status, 200);
  });

  it('expands compact forms (§7.3.3) and unfolds continuation lines (§7.3.1)', () => {
    const text = MESSAGE.replace('Call-ID:', 'i:')
      .replace('To:', 't:')
      .replace('From:', 'f:')
      .replace('Via:', 'v:')
      .replace('Content-Type:', 'c:')
      .replace('Content-Length:', 'l:')
      .replace('Max-Forwards: 70', 'Subject: first\r\n  second\r\n\tthird\r\nMax-Forwards: 70');
    const m = parseDatagram(Buffer.from(text));
    assert.equal(m.headers.get('Call-ID'), 'a84b4c76e66710@127.0.0.1');
    assert.equal(m.headers.get('Subject'), 'first second third');
    assert.equal(m.headers.get('Content-Type'), 'text/plain');
    assert.equal(canonicalName('o'), 'Event');
    assert.equal(canonicalName('www-authenticate'), 'WWW-Authenticate');
  });

  it('rejects a bad start line, a wrong version and missing mandatory headers', () => {
    assert.equal(
      status(() => parseDatagram(Buffer.from(MESSAGE.replace(' SIP/2.0\r\n', '\r\n')))),
      400,
    );
    assert.equal(
      status(() => parseDatagram(Buffer.from(MESSAGE.replace(' SIP/2.0\r\n', ' SIP/3.0\r\n')))),
      505,
    );
    for (const h of ['Via', 'From', 'To', 'Call-ID', 'CSeq']) {
      const text = MESSAGE.split('\r\n')
        .filter((l) => !l.startsWith(`${h}:`))
        .join('\r\n');
      const err = (() => {
        try {
          parseDatagram(Buffer.from(text));
        } catch (e) {
          return e as SipParseError;
        }
        return null;
      })();
      assert.equal(err?.status, 400, h);
      assert.ok(err?.head, `${h}: the parsed headers are kept for the response`);
    }
    assert.equal(
      status(() => parseDatagram(Buffer.from(MESSAGE.replace('1 MESSAGE', '1 INVITE')))),
      400,
    );
  });

  it('checks Content-Length against a datagram', () => {
    assert.equal(
      status(() => parseDatagram(Buffer.from(MESSAGE.replace('Length: 5', 'Length: 50')))),
      400,
    );
    const short = parseDatagram(Buffer.from(MESSAGE.replace('Length: 5', 'Length: 2')));
    assert.equal(short.body.toString(), 'he');
    assert.equal(
      status(() => parseDatagram(Buffer.from(MESSAGE.replace('Length: 5', 'Length: x')))),
      400,
    );
  });

  it('enforces the size, header-count and UTF-8 limits', () => {
    const big = MESSAGE.replace('Max-Forwards: 70', `X-Big: ${'a'.repeat(20_000)}\r\nMax-Forwards: 70`);
    assert.equal(
      status(() => parseDatagram(Buffer.from(big))),
      513,
    );
    const many = MESSAGE.replace(
      'Max-Forwards: 70',
      `${'X-H: 1\r\n'.repeat(DEFAULT_LIMITS.maxHeaders)}Max-Forwards: 70`,
    );
    assert.equal(
      status(() => parseDatagram(Buffer.from(many))),
      513,
    );
    assert.equal(
      status(() => parseDatagram(Buffer.alloc(70_000, 0x41))),
      513,
    );
    const [head = '', tail = ''] = MESSAGE.split('"Bob"');
    const bad = Buffer.concat([Buffer.from(`${head}"B`), Buffer.from([0xff]), Buffer.from(`"${tail}`)]);
    assert.equal(
      status(() => parseDatagram(bad)),
      400,
    );
    const ctl = MESSAGE.replace('Max-Forwards: 70', 'X-Ctl: a\u0001b\r\nMax-Forwards: 70');
    assert.equal(
      status(() => parseDatagram(Buffer.from(ctl))),
      400,
    );
  });

  it('keeps bodies as bytes, invalid UTF-8 included', () => {
    const raw = Buffer.concat([
      Buffer.from(MESSAGE.slice(0, -5).replace('Length: 5', 'Length: 3')),
      Buffer.from([0xc3, 0x28, 0xff]),
    ]);
    const m = parseDatagram(raw);
    assert.deepEqual([...m.body], [0xc3, 0x28, 0xff]);
  });

  it('never lets a header value inject a line', () => {
    const h = new SipHeaders([['Subject', 'a\r\nX-Evil: 1']]);
    const out = serialize({ kind: 'response', status: 200, reason: 'OK', headers: h, body: Buffer.alloc(0) });
    assert.doesNotMatch(out.toString(), /\r\nX-Evil/);
  });

  describe('stream framing (RFC 3261 §18.3, RFC 5626 §3.5.1)', () => {
    it('frames messages split and joined arbitrarily', () => {
      const two = Buffer.from(MESSAGE + MESSAGE);
      for (const step of [1, 7, 64, two.length]) {
        const f = new SipStreamFramer();
        const got = [];
        for (let i = 0; i < two.length; i += step) got.push(...f.push(two.subarray(i, i + step)));
        assert.deepEqual(
          got.map((e) => e.kind),
          ['message', 'message'],
          `step ${step}`,
        );
      }
    });
    it('answers keep-alive pings and ignores pongs', () => {
      const f = new SipStreamFramer();
      assert.deepEqual(
        f.push(Buffer.from('\r\n\r\n')).map((e) => e.kind),
        ['ping'],
      );
      assert.deepEqual(
        f.push(Buffer.from(`\r\n${MESSAGE}`)).map((e) => e.kind),
        ['message'],
      );
    });
    it('requires Content-Length on a stream and stops on unframeable input', () => {
      const f = new SipStreamFramer();
      const ev = f.push(Buffer.from(MESSAGE.replace('Content-Length: 5\r\n', '')));
      assert.equal(ev[0]?.kind, 'error');
      assert.ok(ev[0]?.kind === 'error' && ev[0].fatal && ev[0].error.status === 400);
      assert.deepEqual(f.push(Buffer.from(MESSAGE)), []);
    });
    it('skips the body of a rejected message with a readable Content-Length', () => {
      const f = new SipStreamFramer();
      const bad = MESSAGE.replace('CSeq: 1 MESSAGE', 'CSeq: x');
      const ev = f.push(Buffer.from(bad + MESSAGE));
      assert.deepEqual(
        ev.map((e) => (e.kind === 'error' ? `error ${e.fatal}` : e.kind)),
        ['error false', 'message'],
      );
    });
    it('refuses oversized header sections and bodies', () => {
      const f = new SipStreamFramer();
      const ev = f.push(Buffer.alloc(DEFAULT_LIMITS.maxHeaderBytes + 10, 0x61));
      assert.ok(ev[0]?.kind === 'error' && ev[0].error.status === 513);
      const g = new SipStreamFramer();
      const ev2 = g.push(Buffer.from(MESSAGE.replace('Length: 5', 'Length: 100000')));
      assert.ok(ev2[0]?.kind === 'error' && ev2[0].fatal && ev2[0].error.status === 413);
    });
  });

  describe('header grammar (RFC 3261 §25.1)', () => {
    it('splits lists outside quotes and angle brackets', () => {
      assert.deepEqual(splitList('"a, b" <sip:x@y>;q=1, <sip:z@w;p=1,2>'), ['"a, b" <sip:x@y>;q=1', '<sip:z@w;p=1,2>']);
    });
    it('parses name-addr, addr-spec, Via, CSeq and parameters', () => {
      const na = parseNameAddr('"Bob \\"B\\"" <sip:bob@h;transport=tcp>;tag=abc');
      assert.equal(na?.display, 'Bob "B"');
      assert.equal(na?.uri, 'sip:bob@h;transport=tcp');
      assert.equal(na?.params.get('tag'), 'abc');
      const spec = parseNameAddr('sip:bob@h;tag=xyz');
      assert.equal(spec?.uri, 'sip:bob@h');
      assert.equal(spec?.params.get('tag'), 'xyz');
      const via = parseVia('SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx;rport');
      assert.deepEqual(
        [via?.transport, via?.host, via?.port, via?.params.get('rport')],
        ['UDP', '127.0.0.1', 5060, null],
      );
      assert.equal(parseVia('SIP/2.0/UDP'), null);
      assert.deepEqual(parseCSeq('42 MESSAGE'), { seq: 42, method: 'MESSAGE' });
      assert.equal(parseCSeq('99999999999 MESSAGE'), null);
      assert.equal(parseParams(';a=;b'), null);
      assert.equal(parseParams(';q="x;y"')?.get('q'), 'x;y');
    });
  });
});
