import assert from 'node:assert/strict';
import { Jid, JidError } from '../../../server/jid/index.js';

describe('Jid', () => {
  describe('RFC 7622 §3.5.1 valid examples', () => {
    const valid: [input: string, prepared: string][] = [
      ['juliet@example.com', 'juliet@example.com'],
      ['juliet@example.com/foo', 'juliet@example.com/foo'],
      ['juliet@example.com/foo bar', 'juliet@example.com/foo bar'],
      ['juliet@example.com/foo@bar', 'juliet@example.com/foo@bar'],
      ['foo\\20bar@example.com', 'foo\\20bar@example.com'],
      ['fussball@example.com', 'fussball@example.com'],
      ['fußball@example.com', 'fußball@example.com'],
      ['π@example.com', 'π@example.com'],
      ['Σ@example.com/foo', 'σ@example.com/foo'],
      ['σ@example.com/foo', 'σ@example.com/foo'],
      ['ς@example.com/foo', 'ς@example.com/foo'],
      ['king@example.com/♚', 'king@example.com/♚'],
      ['example.com', 'example.com'],
      ['example.com/foobar', 'example.com/foobar'],
      ['a.example.com/b@example.net', 'a.example.com/b@example.net'],
    ];
    for (const [input, prepared] of valid) {
      it(`accepts ${input}`, () => assert.equal(Jid.parse(input).toString(), prepared));
    }

    it('keeps ß distinct from ss (toLowerCase, not case folding)', () => {
      assert.equal(Jid.parse('fußball@example.com').equals(Jid.parse('fussball@example.com')), false);
    });

    it('splits a.example.com/b@example.net as domain plus resource', () => {
      const j = Jid.parse('a.example.com/b@example.net');
      assert.equal(j.local, null);
      assert.equal(j.domain, 'a.example.com');
      assert.equal(j.resource, 'b@example.net');
    });
  });

  describe('RFC 7622 §3.5.2 invalid examples', () => {
    const invalid = [
      '"juliet"@example.com',
      'foo bar@example.com',
      '@example.com/',
      'henry\u2163@example.com',
      '♚@example.com',
      'juliet@',
      '/foobar',
    ];
    for (const input of invalid) {
      it(`rejects ${input}`, () => assert.throws(() => Jid.parse(input), JidError));
    }
  });

  describe('split rules (RFC 7622 §3.1)', () => {
    it('takes the resource after the first slash, with @ and / inside', () => {
      const j = Jid.parse('juliet@example.com/a/b@c');
      assert.equal(j.local, 'juliet');
      assert.equal(j.domain, 'example.com');
      assert.equal(j.resource, 'a/b@c');
    });

    it('rejects a second @ before the slash (it lands in the domainpart)', () => {
      assert.throws(() => Jid.parse('a@b@example.com'), JidError);
    });

    it('rejects empty parts around present separators', () => {
      for (const s of ['', '@example.com', 'juliet@example.com/', 'example.com/', '@', '/']) {
        assert.throws(() => Jid.parse(s), JidError, s);
      }
    });

    it('keeps a leading space in the resource: OpaqueString does not trim (RFC 8265 §4.2)', () => {
      assert.equal(Jid.parse('juliet@example.com/ foo').resource, ' foo');
    });
  });

  describe('case and width', () => {
    it('lowercases localpart and domainpart but preserves resource case', () => {
      const j = Jid.parse('JuLiEt@Example.COM/Balcony');
      assert.equal(j.toString(), 'juliet@example.com/Balcony');
      assert.equal(j.equals(Jid.parse('juliet@example.com/balcony')), false);
      assert.equal(j.bareEquals(Jid.parse('juliet@example.com/balcony')), true);
    });

    it('maps fullwidth localpart letters (RFC 8265 §3.3.1 width mapping)', () => {
      assert.equal(Jid.parse('\uff2a\uff35\uff2c\uff29\uff25\uff34@example.com').local, 'juliet');
    });

    it('applies the Final_Sigma case mapping', () => {
      assert.equal(Jid.parse('ΟΔΥΣΣΕΥΣ@example.com').local, 'οδυσσευς');
    });
  });

  describe('domainpart', () => {
    it('keeps IDN domains as lowercase U-labels', () => {
      assert.equal(Jid.parse('juliet@例え.テスト').domain, '例え.テスト');
      assert.equal(Jid.parse('juliet@BÜCHER.example').domain, 'bücher.example');
    });

    it('converts A-labels in any case to U-labels', () => {
      assert.equal(Jid.parse('juliet@XN--R8JZ45G.XN--ZCKZAH/r').toString(), 'juliet@例え.テスト/r');
      assert.ok(Jid.parse('xn--r8jz45g.xn--zckzah').equals(Jid.parse('例え.テスト')));
    });

    it('strips one trailing dot', () => {
      assert.equal(Jid.parse('juliet@example.com./r').toString(), 'juliet@example.com/r');
      assert.throws(() => Jid.parse('juliet@example.com..'), JidError);
    });

    it('accepts IP literals', () => {
      assert.equal(Jid.parse('juliet@[2001:DB8::1]/r').domain, '[2001:db8::1]');
      assert.equal(Jid.parse('192.0.2.7').domain, '192.0.2.7');
      assert.throws(() => Jid.parse('juliet@[2001:db8::1'), JidError);
      assert.throws(() => Jid.parse('juliet@[not-an-ip]'), JidError);
    });

    it('rejects non-hostname domainparts', () => {
      for (const d of ['exa mple.com', 'exa_mple.com', '-example.com', 'example-.com', 'ab--cd.com', '1.2.3.999']) {
        assert.throws(() => Jid.parse(`juliet@${d}`), JidError, d);
      }
    });
  });

  describe('length limits (RFC 7622 §3.2-§3.4: 1023 bytes)', () => {
    it('bounds the localpart in UTF-8 bytes', () => {
      assert.equal(Jid.parse(`${'a'.repeat(1023)}@example.com`).local?.length, 1023);
      assert.throws(() => Jid.parse(`${'a'.repeat(1024)}@example.com`), JidError);
      assert.ok(Jid.parse(`${'é'.repeat(511)}@example.com`)); // 1022 bytes
      assert.throws(() => Jid.parse(`${'é'.repeat(512)}@example.com`), JidError); // 1024 bytes
    });

    it('bounds the resourcepart', () => {
      assert.ok(Jid.parse(`example.com/${'r'.repeat(1023)}`));
      assert.throws(() => Jid.parse(`example.com/${'r'.repeat(1024)}`), JidError);
      assert.throws(() => Jid.parse(`example.com/${'♚'.repeat(342)}`), JidError); // 1026 bytes
    });

    it('bounds domain labels to 63 octets and the domainpart to 1023', () => {
      assert.ok(Jid.parse(`${'a'.repeat(63)}.example`));
      assert.throws(() => Jid.parse(`${'a'.repeat(64)}.example`), JidError);
      const label = 'a'.repeat(63);
      assert.ok(Jid.parse(`${Array(16).fill(label).join('.')}`)); // 16 * 64 - 1 = 1023
      assert.throws(() => Jid.parse(`${Array(17).fill(label).join('.')}`), JidError);
    });
  });

  describe('API', () => {
    const full = Jid.parse('juliet@example.com/balcony');

    it('exposes parts and shape', () => {
      assert.equal(full.local, 'juliet');
      assert.equal(full.domain, 'example.com');
      assert.equal(full.resource, 'balcony');
      assert.equal(full.isBare, false);
      assert.equal(full.isDomain, false);
      assert.equal(full.bareString, 'juliet@example.com');
      assert.equal(full.bare().isBare, true);
      assert.equal(full.bare().toString(), 'juliet@example.com');
      assert.equal(full.domainJid().toString(), 'example.com');
      assert.equal(full.domainJid().isDomain, true);
      assert.equal(JSON.stringify({ to: full }), '{"to":"juliet@example.com/balcony"}');
    });

    it('returns itself where nothing changes and caches derived values', () => {
      const bare = full.bare();
      assert.equal(full.bare(), bare);
      assert.equal(bare.bare(), bare);
      assert.equal(bare.domainJid().domainJid(), bare.domainJid().domainJid().domainJid());
      assert.equal(full.toString(), full.toString());
    });

    it('prepares the resource given to withResource', () => {
      const j = full.bare().withResource('Orchard\u00a0North');
      assert.equal(j.toString(), 'juliet@example.com/Orchard North');
      assert.throws(() => full.withResource(''), JidError);
    });

    it('compares by prepared parts', () => {
      assert.ok(full.equals(Jid.parse('Juliet@EXAMPLE.com/balcony')));
      assert.ok(!full.equals(full.bare()));
      assert.ok(full.bareEquals(full.bare()));
      assert.ok(!Jid.parse('example.com').bareEquals(Jid.parse('juliet@example.com')));
    });

    it('builds from parts with of()', () => {
      assert.equal(Jid.of('Juliet', 'Example.com', 'Balcony').toString(), 'juliet@example.com/Balcony');
      assert.equal(Jid.of(null, 'example.com').toString(), 'example.com');
      assert.equal(Jid.of('juliet', 'example.com', null).isBare, true);
      assert.throws(() => Jid.of('a@b', 'example.com'), JidError);
      assert.throws(() => Jid.of('juliet', 'example.com/x'), JidError);
    });

    it('tryParse returns null for absent or malformed input', () => {
      assert.equal(Jid.tryParse(undefined), null);
      assert.equal(Jid.tryParse(null), null);
      assert.equal(Jid.tryParse(''), null);
      assert.equal(Jid.tryParse('juliet@'), null);
      assert.equal(Jid.tryParse('juliet@example.com')?.toString(), 'juliet@example.com');
    });

    it('caches parse results for identical input', () => {
      assert.equal(Jid.parse('romeo@example.net/orchard'), Jid.parse('romeo@example.net/orchard'));
    });
  });
});
