// Unit tests of the pure IRC codec (gateways/irc/codec.ts, text.ts): RFC 2812 §2.3.1 grammar, IRCv3 tags, limits,
// character decoding, formatting and XML safety, CTCP ACTION, splitting, and name rules.
import assert from 'node:assert/strict';
import {
  ctcpAction,
  decodeLine,
  IrcCodecError,
  ircLower,
  ircToXmppBody,
  isValidChannel,
  isValidNick,
  LineFramer,
  MAX_LINE_BYTES,
  parseCtcp,
  parseMessage,
  parsePrefix,
  parseXmppBody,
  serializeMessage,
  splitText,
  stripFormatting,
  textBudget,
  xmlSafe,
} from '../../../gateways/irc/codec.js';

describe('IRC codec', () => {
  describe('parseMessage (RFC 2812 §2.3.1)', () => {
    it('parses prefix, command, middle and trailing parameters', () => {
      const m = parseMessage(':alice!al@host.example PRIVMSG #chan :hello there');
      assert.deepEqual(m, {
        tags: {},
        prefix: 'alice!al@host.example',
        command: 'PRIVMSG',
        params: ['#chan', 'hello there'],
      });
    });
    it('upper-cases commands and accepts three-digit numerics', () => {
      assert.equal(parseMessage('ping :x')?.command, 'PING');
      assert.deepEqual(parseMessage(':srv 001 me :Welcome')?.params, ['me', 'Welcome']);
    });
    it('keeps an empty trailing parameter and a trailing one with colons', () => {
      assert.deepEqual(parseMessage('TOPIC #c :')?.params, ['#c', '']);
      assert.deepEqual(parseMessage('PRIVMSG #c ::-) a:b')?.params, ['#c', ':-) a:b']);
    });
    it('tolerates runs of spaces between parameters', () => {
      assert.deepEqual(parseMessage(':p  JOIN   #a  ')?.params, ['#a']);
    });
    it('after 14 middle parameters takes the rest as the trailing one, with or without ":"', () => {
      const mids = Array.from({ length: 14 }, (_, i) => `p${i}`).join(' ');
      assert.deepEqual(parseMessage(`CMD ${mids} rest of it`)?.params.at(-1), 'rest of it');
      assert.equal(parseMessage(`CMD ${mids} rest of it`)?.params.length, 15);
      assert.equal(parseMessage(`CMD ${mids} :x y`)?.params.length, 15);
    });
    it('rejects lines without a valid command, never throwing', () => {
      for (const bad of ['', '   ', ':prefixonly', '@tags-only', 'PRIV-MSG x', '12 x', '1234 x', ':p :x']) {
        assert.equal(parseMessage(bad), undefined, JSON.stringify(bad));
      }
    });
    it('parses IRCv3 message-tags with escaped values', () => {
      const m = parseMessage('@time=2024-01-01T00:00:00Z;msgid=a\\sb\\:c\\\\d;flag;+client=x :n!u@h PRIVMSG #c :hi');
      assert.deepEqual(m?.tags, { time: '2024-01-01T00:00:00Z', msgid: 'a b;c\\d', flag: '', '+client': 'x' });
      assert.equal(m?.command, 'PRIVMSG');
    });
    it('drops unknown escapes and a trailing backslash in tag values', () => {
      assert.deepEqual(parseMessage('@a=x\\y\\ CMD')?.tags, { a: 'xy' });
    });
  });

  describe('parsePrefix', () => {
    it('splits nick!user@host', () => {
      assert.deepEqual(parsePrefix('nick!~user@host'), { nick: 'nick', user: '~user', host: 'host' });
    });
    it('handles nick@host and server names', () => {
      assert.deepEqual(parsePrefix('nick@host'), { nick: 'nick', host: 'host' });
      assert.deepEqual(parsePrefix('irc.example.net'), { nick: 'irc.example.net' });
    });
  });

  describe('serializeMessage', () => {
    it('puts a trailing ":" only where needed', () => {
      assert.equal(serializeMessage({ command: 'JOIN', params: ['#a'] }), 'JOIN #a');
      assert.equal(serializeMessage({ command: 'PRIVMSG', params: ['#a', 'hi there'] }), 'PRIVMSG #a :hi there');
      assert.equal(serializeMessage({ command: 'PRIVMSG', params: ['#a', ':)'] }), 'PRIVMSG #a ::)');
      assert.equal(serializeMessage({ command: 'AWAY', params: [''] }), 'AWAY :');
    });
    it('round-trips through parseMessage', () => {
      const line = serializeMessage({ command: 'privmsg', params: ['bob', 'a b :c'] });
      assert.deepEqual(parseMessage(line)?.params, ['bob', 'a b :c']);
    });
    it('refuses CR, LF and NUL (command injection)', () => {
      for (const p of ['a\r\nQUIT', 'a\nb', 'a\rb', 'a\0b']) {
        assert.throws(() => serializeMessage({ command: 'PRIVMSG', params: ['#a', p] }), IrcCodecError);
      }
    });
    it('refuses bad middle parameters, too many parameters and over-long lines', () => {
      assert.throws(() => serializeMessage({ command: 'X', params: ['a b', 'c'] }), IrcCodecError);
      assert.throws(() => serializeMessage({ command: 'X', params: ['', 'c'] }), IrcCodecError);
      assert.throws(() => serializeMessage({ command: 'X', params: Array(16).fill('p') }), IrcCodecError);
      assert.throws(() => serializeMessage({ command: 'PRIVMSG', params: ['#a', 'x'.repeat(510)] }), IrcCodecError);
      assert.throws(() => serializeMessage({ command: 'BAD CMD' }), IrcCodecError);
    });
    it('accepts a line of exactly 510 bytes', () => {
      const text = `${'é'.repeat(247)} x`; // 496 bytes after "PRIVMSG #abc :" (14)
      const line = serializeMessage({ command: 'PRIVMSG', params: ['#abc', text] });
      assert.equal(Buffer.byteLength(line), 510);
      assert.throws(() => serializeMessage({ command: 'PRIVMSG', params: ['#abc', `${text}x`] }), IrcCodecError);
    });
    it('escapes tag values', () => {
      assert.equal(
        serializeMessage({ command: 'TAGMSG', params: ['#a'], tags: { '+x': 'a b;c' } }),
        '@+x=a\\sb\\:c TAGMSG #a',
      );
    });
  });

  describe('LineFramer (bounded read buffer)', () => {
    it('splits on CRLF and lone LF, across chunks', () => {
      const f = new LineFramer();
      assert.deepEqual(f.push(Buffer.from('PING :a\r\nPI')).lines.map(String), ['PING :a']);
      assert.deepEqual(f.push(Buffer.from('NG :b\nX\r\n')).lines.map(String), ['PING :b', 'X']);
    });
    it('drops a line over 512 bytes whole and resynchronises on the next line', () => {
      const f = new LineFramer();
      const long = `PRIVMSG #a :${'x'.repeat(600)}\r\n`;
      const r = f.push(Buffer.from(`${long}PING :ok\r\n`));
      assert.equal(r.dropped, 1);
      assert.deepEqual(r.lines.map(String), ['PING :ok']);
    });
    it('keeps a line of exactly 512 bytes including CRLF', () => {
      const line = `PRIVMSG #a :${'x'.repeat(MAX_LINE_BYTES - 2 - 12)}`;
      assert.equal(Buffer.byteLength(line), 510);
      assert.equal(new LineFramer().push(Buffer.from(`${line}\r\n`)).lines.length, 1);
    });
    it('never holds more than its limit of a line without LF (10 KB in small chunks)', () => {
      const f = new LineFramer();
      let dropped = 0;
      for (let i = 0; i < 100; i++) {
        const r = f.push(Buffer.from('y'.repeat(100)));
        dropped += r.dropped;
        assert.equal(r.lines.length, 0);
      }
      const r = f.push(Buffer.from('tail\r\nPING :after\r\n'));
      assert.equal(dropped + r.dropped, 1);
      assert.deepEqual(r.lines.map(String), ['PING :after']);
    });
    it('admits IRCv3 tags beyond 512 bytes but limits the message part', () => {
      const tags = `@a=${'t'.repeat(1000)}`;
      const f = new LineFramer();
      assert.equal(f.push(Buffer.from(`${tags} PING :x\r\n`)).lines.length, 1);
      assert.equal(f.push(Buffer.from(`${tags} PRIVMSG #a :${'x'.repeat(600)}\r\n`)).dropped, 1);
    });
    it('skips empty lines', () => {
      assert.deepEqual(new LineFramer().push(Buffer.from('\r\n\r\nA\r\n')).lines.map(String), ['A']);
    });
  });

  describe('decodeLine (charset policy)', () => {
    it('decodes valid UTF-8', () => {
      assert.equal(decodeLine(Buffer.from('héllo ☃ 😀', 'utf8')), 'héllo ☃ 😀');
    });
    it('falls back to latin1 for a line that is not UTF-8, never throwing', () => {
      assert.equal(decodeLine(Buffer.from([0x63, 0x61, 0x66, 0xe9])), 'café');
      assert.equal(decodeLine(Buffer.from([0xff, 0xfe, 0xc3])), 'ÿþÃ');
      assert.equal(decodeLine(Buffer.from([0xed, 0xa0, 0x80])), 'í\u00a0\u0080'); // CESU surrogate: invalid UTF-8
    });
    it('drops a UTF-8 byte order mark', () => {
      assert.equal(decodeLine(Buffer.from('\ufeffhi', 'utf8')), 'hi');
    });
  });

  describe('formatting and XML safety', () => {
    it('strips bold, colours (with and without background), hex colours, reset, reverse, italic, underline', () => {
      const s =
        '\x02bold\x02 \x0304red\x03 \x0304,12bg\x03 \x031x \x04FF0000hex\x04 \x0Freset \x16rev\x1Dit\x1Fun\x1Est\x11mono';
      assert.equal(stripFormatting(s), 'bold red bg x hex reset revitunstmono');
    });
    it('keeps digits after a colour code that are part of the text only when beyond two', () => {
      assert.equal(stripFormatting('\x03123'), '3');
      assert.equal(stripFormatting('\x03,5'), ',5'); // no foreground: the comma is text
    });
    it('removes characters XML 1.0 forbids, including lone surrogates', () => {
      assert.equal(xmlSafe('a\x00b\x01c\x1bd\x7fe\ufffef\ud800g\tH\nI'), 'abcd\x7fefg\tH\nI');
      assert.equal(xmlSafe('😀'), '😀');
    });
  });

  describe('CTCP ACTION ⇄ /me (XEP-0245)', () => {
    it('maps ACTION to /me and back', () => {
      assert.equal(ircToXmppBody('\x01ACTION waves\x01'), '/me waves');
      assert.equal(ircToXmppBody('\x01ACTION waves'), '/me waves'); // closing delimiter may be omitted
      assert.deepEqual(parseXmppBody('/me waves'), { text: 'waves', action: true });
      assert.deepEqual(parseXmppBody('/mention'), { text: '/mention', action: false });
      assert.equal(ctcpAction('waves'), '\x01ACTION waves\x01');
    });
    it('recognises other CTCP requests and hides them from XMPP', () => {
      assert.deepEqual(parseCtcp('\x01VERSION\x01'), { command: 'VERSION', args: '' });
      assert.deepEqual(parseCtcp('\x01PING 123\x01'), { command: 'PING', args: '123' });
      assert.equal(ircToXmppBody('\x01VERSION\x01'), undefined);
      assert.equal(parseCtcp('\x01\x01'), undefined);
      assert.equal(parseCtcp('plain'), undefined);
    });
    it('strips formatting inside an action', () => {
      assert.equal(ircToXmppBody('\x01ACTION \x02dances\x02\x01'), '/me dances');
    });
  });

  describe('splitting (RFC 2812 §2.3 limit as the receiver sees it)', () => {
    it('computes the budget from the relayed prefix', () => {
      const b = textBudget({ command: 'PRIVMSG', target: '#chan', nick: 'me', user: '~u', host: 'h.example' });
      // 512 - ":me!~u@h.example " (17) - "PRIVMSG #chan :" (15) - CRLF (2)
      assert.equal(b, 512 - 17 - 15 - 2);
      const unknown = textBudget({ command: 'PRIVMSG', target: '#chan', nick: 'me' });
      assert.ok(unknown < b);
      assert.equal(
        textBudget({ command: 'PRIVMSG', target: '#chan', nick: 'me', user: '~u', host: 'h.example', action: true }),
        b - 9,
      );
    });
    it('splits on whitespace when it can, and every chunk fits', () => {
      const words = Array.from({ length: 200 }, (_, i) => `word${i}`).join(' ');
      const chunks = splitText(words, 100);
      for (const c of chunks) assert.ok(Buffer.byteLength(c) <= 100, c);
      assert.equal(chunks.join(' '), words);
      for (const c of chunks) assert.ok(!c.startsWith(' ') && /\d$/.test(c), c);
    });
    it('cuts on code point boundaries, never inside a UTF-8 sequence or surrogate pair', () => {
      const text = '😀é中'.repeat(100);
      const chunks = splitText(text, 50);
      for (const c of chunks) {
        assert.ok(Buffer.byteLength(c) <= 50);
        assert.equal(Buffer.from(c, 'utf8').toString('utf8'), c);
        assert.doesNotMatch(c, /[\ud800-\udbff]$|^[\udc00-\udfff]/);
      }
      assert.equal(chunks.join(''), text);
    });
    it('sends each line separately and skips empty lines', () => {
      assert.deepEqual(splitText('one\r\ntwo\n\nthree\r', 400), ['one', 'two', 'three']);
      assert.deepEqual(splitText('', 400), []);
    });
    it('rejects a budget too small for any character', () => {
      assert.throws(() => splitText('x', 3), RangeError);
    });
  });

  describe('names (RFC 2812 §2.3.1, §1.3, RFC 1459 §2.2)', () => {
    it('validates nicknames', () => {
      for (const ok of ['alice', 'A', '[bot]', 'x_y-z', '`^{|}\\', 'a1234567890']) assert.ok(isValidNick(ok), ok);
      for (const bad of ['', '1abc', '-x', 'a b', 'a!b', 'a@b', 'a%b', '#chan', 'é']) assert.ok(!isValidNick(bad), bad);
      assert.ok(!isValidNick('abcdefghij', 9));
    });
    it('validates channel names', () => {
      for (const ok of ['#a', '&local', '+modeless', '!ABCDEsafe', '#it\'s@x/y"&<>']) assert.ok(isValidChannel(ok), ok);
      for (const bad of ['#', 'chan', '#a b', '#a,b', '#a:b', '#a\x07', `#${'x'.repeat(50)}`]) {
        assert.ok(!isValidChannel(bad), bad);
      }
    });
    it('folds case per CASEMAPPING', () => {
      assert.equal(ircLower('Nick[]\\~'), 'nick{}|^');
      assert.equal(ircLower('Nick[]\\~', 'strict-rfc1459'), 'nick{}|~');
      assert.equal(ircLower('Nick[]\\~', 'ascii'), 'nick[]\\~');
    });
  });
});
