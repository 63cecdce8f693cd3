import assert from 'node:assert/strict';
import {
  JidError,
  prepareDomainpart,
  prepareLocalpart,
  preparePassword,
  prepareResourcepart,
} from '../../../server/jid/index.js';

describe('PRECIS preparation', () => {
  describe('prepareLocalpart (UsernameCaseMapped, RFC 8265 §3.3)', () => {
    it('returns prepared ASCII unchanged and lowercases the rest', () => {
      assert.equal(prepareLocalpart('juliet.capulet-1_x'), 'juliet.capulet-1_x');
      assert.equal(prepareLocalpart('Juliet+Tag!'), 'juliet+tag!');
    });

    it('forbids the RFC 7622 §3.3.1 legacy characters, also when they arrive fullwidth', () => {
      for (const c of ['"', '&', "'", '/', ':', '<', '>', '@']) {
        assert.throws(() => prepareLocalpart(`a${c}b`), JidError, c);
      }
      assert.throws(() => prepareLocalpart('a\uff20b'), JidError); // FULLWIDTH COMMERCIAL AT
    });

    it('maps width, then case, then NFC', () => {
      assert.equal(prepareLocalpart('\uff21\uff42\uff43'), 'abc');
      assert.equal(prepareLocalpart('\uff76\uff9e'), '\u30ac'); // halfwidth KA + voiced mark compose to GA
      assert.equal(prepareLocalpart('E\u0301'), '\u00e9');
      assert.equal(prepareLocalpart('\u212b'), '\u00e5'); // ANGSTROM SIGN: NFC then lowercase
    });

    it('rejects IdentifierClass-disallowed code points', () => {
      const bad = [
        'a b', // space (RFC 8264 §9.14)
        'a\u00a0b', // compatibility space (HasCompat)
        'a\tb', // control
        'a\u200bb', // default ignorable
        'a\u00adb', // soft hyphen (default ignorable)
        'x\u2163', // ROMAN NUMERAL FOUR (HasCompat)
        '\u2654', // symbol
        'a\u2014b', // EM DASH: non-ASCII punctuation
        'a\ue000', // private use
        'a\u0378', // unassigned
        'a\u0640b', // ARABIC TATWEEL: exception DISALLOWED
        '\u1100\u1161\u11ff', // old Hangul jamo that NFC leaves uncomposed
      ];
      for (const s of bad) assert.throws(() => prepareLocalpart(s), JidError, JSON.stringify(s));
    });

    it('accepts letters, marks and digits of other scripts', () => {
      for (const s of ['π', 'юлия', '例え', 'नमस्ते', 'ñandú', '〇']) {
        assert.equal(prepareLocalpart(s), s);
      }
    });

    it('applies the contextual rules of RFC 5892 Appendix A', () => {
      assert.equal(prepareLocalpart('l\u00b7l'), 'l\u00b7l'); // A.3 Catalan middle dot
      assert.throws(() => prepareLocalpart('a\u00b7b'), JidError);
      assert.equal(prepareLocalpart('\u0915\u094d\u200d\u0937'), '\u0915\u094d\u200d\u0937'); // A.2 ZWJ after virama
      assert.throws(() => prepareLocalpart('a\u200db'), JidError);
      assert.equal(prepareLocalpart('\u0645\u06cc\u200c\u062e'), '\u0645\u06cc\u200c\u062e'); // A.1 Persian ZWNJ
      assert.equal(prepareLocalpart('\u30a2\u30fb\u30a4'), '\u30a2\u30fb\u30a4'); // A.7 with katakana
      assert.throws(() => prepareLocalpart('a\u30fbb'), JidError);
      assert.throws(() => prepareLocalpart('\u0628\u0661\u06f1'), JidError); // A.8/A.9 mixed Arabic digits
    });

    it('applies the Bidi Rule to right-to-left localparts', () => {
      assert.equal(prepareLocalpart('שלום'), 'שלום');
      assert.equal(prepareLocalpart('שלום1'), 'שלום1');
      assert.throws(() => prepareLocalpart('שלוםabc'), JidError); // mixes RTL and LTR letters
      assert.throws(() => prepareLocalpart('1שלום'), JidError); // must start with an RTL letter
      assert.throws(() => prepareLocalpart('שלום.'), JidError); // must end with RTL letter or digit
    });

    it('rejects empty and over-long input', () => {
      assert.throws(() => prepareLocalpart(''), JidError);
      assert.throws(() => prepareLocalpart('\u00e9'.repeat(600)), /1023/);
      assert.throws(() => prepareLocalpart('x'.repeat(100_000)), JidError);
    });
  });

  describe('prepareResourcepart (OpaqueString, RFC 8265 §4.2)', () => {
    it('keeps case, spaces, symbols and fullwidth forms', () => {
      assert.equal(prepareResourcepart(' Foo Bar '), ' Foo Bar ');
      assert.equal(prepareResourcepart('♚ & <co>'), '♚ & <co>');
      assert.equal(prepareResourcepart('\uff21'), '\uff21');
      assert.equal(prepareResourcepart('\u2163'), '\u2163'); // HasCompat is FreeformClass-valid
    });

    it('maps non-ASCII spaces to U+0020 and normalizes to NFC', () => {
      assert.equal(prepareResourcepart('a\u00a0b\u3000c'), 'a b c');
      assert.equal(prepareResourcepart('e\u0301'), '\u00e9');
    });

    it('rejects controls, ignorables and empty strings', () => {
      for (const s of ['', 'a\nb', 'a\u200bb', 'a\u2028b', 'a\ud800b']) {
        assert.throws(() => prepareResourcepart(s), JidError, JSON.stringify(s));
      }
    });
  });

  describe('preparePassword (OpaqueString)', () => {
    it('preserves case and maps non-ASCII spaces', () => {
      assert.equal(preparePassword('Correct Horse'), 'Correct Horse');
      assert.equal(preparePassword('Correct\u2003Horse'), 'Correct Horse');
      assert.equal(preparePassword('I\u2168X'), 'I\u2168X'); // ROMAN NUMERAL NINE: HasCompat is allowed
    });

    it('rejects empty and control-bearing passwords without echoing them', () => {
      assert.throws(() => preparePassword(''), JidError);
      assert.throws(
        () => preparePassword('s3cret\u0007'),
        (err: unknown) => err instanceof JidError && !err.message.includes('U+') && !err.message.includes('s3cret'),
      );
    });
  });

  describe('prepareDomainpart (RFC 7622 §3.2)', () => {
    it('lowercases plain LDH names without IDNA', () => {
      assert.equal(prepareDomainpart('Example.COM'), 'example.com');
      assert.equal(prepareDomainpart('localhost'), 'localhost');
    });

    it('strips one trailing label separator, including the ideographic full stop', () => {
      assert.equal(prepareDomainpart('example.com.'), 'example.com');
      assert.equal(prepareDomainpart('例え。テスト。'), '例え.テスト');
      assert.throws(() => prepareDomainpart('.'), JidError);
    });

    it('maps fullwidth and uppercase IDN input', () => {
      assert.equal(prepareDomainpart('\uff25\uff38\uff21\uff2d\uff30\uff2c\uff25.com'), 'example.com');
      assert.equal(prepareDomainpart('ÖBB.at'), 'öbb.at');
    });

    it('rejects invalid A-labels and symbol domains', () => {
      assert.throws(() => prepareDomainpart('xn--abc.example'), JidError);
      assert.throws(() => prepareDomainpart('♚.example'), JidError);
      assert.throws(() => prepareDomainpart('xn--45h.example'), JidError); // the A-label of ♚
    });

    it('rejects characters that cannot appear in a hostname', () => {
      for (const d of ['a b', 'a/b', 'a@b', 'a:5222', 'a*b', 'a..b', '', '256', '[fe80::1%eth0]']) {
        assert.throws(() => prepareDomainpart(d), JidError, d);
      }
    });
  });
});
