import assert from 'node:assert/strict';
import { escapeLocal, Jid, JidError, unescapeLocal } from '../../../server/jid/index.js';

describe('XEP-0106 JID escaping', () => {
  // XEP-0106 §5.1 "JID Examples": user input localpart and its escaped form.
  const table: [unescaped: string, escaped: string][] = [
    ['space cadet', 'space\\20cadet'],
    ['call me "ishmael"', 'call\\20me\\20\\22ishmael\\22'],
    ['at&t guy', 'at\\26t\\20guy'],
    ["d'artagnan", 'd\\27artagnan'],
    ['/.fanboy', '\\2f.fanboy'],
    ['::foo::', '\\3a\\3afoo\\3a\\3a'],
    ['<foo>', '\\3cfoo\\3e'],
    ['user@host', 'user\\40host'],
    ['c:\\net', 'c\\3a\\net'],
    ['c:\\\\net', 'c\\3a\\\\net'],
    ['c:\\cool stuff', 'c\\3a\\cool\\20stuff'],
    ['c:\\5commas', 'c\\3a\\5c5commas'],
  ];

  for (const [unescaped, escaped] of table) {
    it(`escapes ${unescaped}`, () => assert.equal(escapeLocal(unescaped), escaped));
    it(`unescapes ${escaped}`, () => assert.equal(unescapeLocal(escaped), unescaped));
  }

  it('escapes a backslash that would start a sequence (§4.2 step 3 example)', () => {
    assert.equal(escapeLocal('\\3and\\2is\\5cool'), '\\5c3and\\2is\\5c5cool');
    assert.equal(unescapeLocal('\\5c3and\\2is\\5c5cool'), '\\3and\\2is\\5cool');
    assert.equal(escapeLocal('call me\\20'), 'call\\20me\\5c20');
  });

  it('leaves partial and unknown sequences alone (§4.3)', () => {
    for (const s of ['\\2plus\\2is\\4', 'foo\\bar', 'foob\\41r']) {
      assert.equal(escapeLocal(s), s);
      assert.equal(unescapeLocal(s), s);
    }
  });

  it('unescapes only the lowercase sequences (§3.1: case is significant)', () => {
    assert.equal(unescapeLocal('a\\2Fb'), 'a\\2Fb');
    assert.equal(escapeLocal('a\\2Fb'), 'a\\5c2Fb'); // would become a live \2f once the localpart is lowercased
  });

  it('refuses a leading or trailing space (§4.1 rule 6)', () => {
    assert.throws(() => escapeLocal(' cadet'), JidError);
    assert.throws(() => escapeLocal('cadet '), JidError);
  });

  it('produces valid localparts that survive preparation', () => {
    for (const [unescaped, escaped] of table) {
      const jid = Jid.of(escapeLocal(unescaped), 'example.com');
      assert.equal(jid.local, escaped);
      assert.equal(unescapeLocal(jid.local ?? ''), unescaped);
    }
  });

  it('maps a SIP address for a gateway (DESIGN §6)', () => {
    const jid = Jid.of(escapeLocal('alice@pbx.example'), 'sip.example.com');
    assert.equal(jid.toString(), 'alice\\40pbx.example@sip.example.com');
    assert.equal(unescapeLocal(jid.local ?? ''), 'alice@pbx.example');
  });
});
