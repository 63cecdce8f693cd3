// Unit: XEP-0191 codec (server/modules/xep-0191-blocking/codec.ts).
import assert from 'node:assert/strict';
import { StanzaError } from '../../../server/errors/index.js';
import { Jid } from '../../../server/jid/index.js';
import {
  blockElement,
  blockedError,
  blocklistElement,
  blockMatches,
  coveredAddresses,
  inboundAnswer,
  NS_BLOCKING,
  NS_BLOCKING_ERRORS,
  parseBlock,
  parseUnblock,
  unblockElement,
} from '../../../server/modules/xep-0191-blocking/codec.js';
import { parseXml } from '../../../server/xml/element.js';

function condition(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof StanzaError) return err.condition;
    throw err;
  }
  return 'none';
}

const payload = (name: string, items: string[]) =>
  parseXml(`<${name} xmlns='${NS_BLOCKING}'>${items.map((j) => `<item jid='${j}'/>`).join('')}</${name}>`);

describe('XEP-0191 blocking codec', () => {
  describe('parseBlock / parseUnblock', () => {
    it('prepares JIDs and drops duplicates (§3.3)', () => {
      assert.deepEqual(parseBlock(payload('block', ['Romeo@Montague.NET', 'romeo@montague.net', 'example.org'])), [
        'romeo@montague.net',
        'example.org',
      ]);
    });
    it('requires at least one item in <block/> (§3.3: bad-request)', () => {
      assert.equal(
        condition(() => parseBlock(payload('block', []))),
        'bad-request',
      );
    });
    it('reads an empty <unblock/> as unblock-all (§3.5)', () => {
      assert.equal(parseUnblock(payload('unblock', [])), 'all');
      assert.deepEqual(parseUnblock(payload('unblock', ['a@b/c'])), ['a@b/c']);
    });
    it('refuses an item without jid and an invalid JID', () => {
      assert.equal(
        condition(() => parseBlock(parseXml(`<block xmlns='${NS_BLOCKING}'><item/></block>`))),
        'bad-request',
      );
      assert.equal(
        condition(() => parseBlock(payload('block', ['a@@b']))),
        'jid-malformed',
      );
    });
    it('ignores children in other namespaces', () => {
      const el = parseXml(`<block xmlns='${NS_BLOCKING}'><item xmlns='urn:other' jid='x@y'/><item jid='a@b'/></block>`);
      assert.deepEqual(parseBlock(el), ['a@b']);
    });
  });

  describe('elements', () => {
    it('builds the blocklist, block and unblock payloads', () => {
      assert.equal(blocklistElement([]).toString(), `<blocklist xmlns="${NS_BLOCKING}"/>`);
      assert.equal(
        blocklistElement(['a@b', 'c']).toString(),
        `<blocklist xmlns="${NS_BLOCKING}"><item jid="a@b"/><item jid="c"/></blocklist>`,
      );
      assert.equal(blockElement(['a@b']).toString(), `<block xmlns="${NS_BLOCKING}"><item jid="a@b"/></block>`);
      assert.equal(unblockElement('all').toString(), `<unblock xmlns="${NS_BLOCKING}"/>`);
      assert.equal(unblockElement(['a@b']).toString(), `<unblock xmlns="${NS_BLOCKING}"><item jid="a@b"/></unblock>`);
    });
    it('builds the not-acceptable error with <blocked/> (§3.3)', () => {
      const el = blockedError().toElement();
      assert.equal(el.attrs.type, 'cancel');
      assert.ok(el.getChild('not-acceptable', 'urn:ietf:params:xml:ns:xmpp-stanzas'));
      assert.ok(el.getChild('blocked', NS_BLOCKING_ERRORS));
    });
  });

  describe('blockMatches (§6, XEP-0016 order)', () => {
    const j = (s: string) => Jid.parse(s);
    it('a full JID item matches only that resource', () => {
      const items = new Set(['romeo@montague.net/orchard']);
      assert.equal(blockMatches(items, j('romeo@montague.net/orchard')), true);
      assert.equal(blockMatches(items, j('romeo@montague.net/garden')), false);
      assert.equal(blockMatches(items, j('romeo@montague.net')), false);
    });
    it('a bare JID item matches every resource', () => {
      const items = new Set(['romeo@montague.net']);
      assert.equal(blockMatches(items, j('romeo@montague.net')), true);
      assert.equal(blockMatches(items, j('romeo@montague.net/any')), true);
      assert.equal(blockMatches(items, j('tybalt@montague.net')), false);
      assert.equal(blockMatches(items, j('montague.net')), false);
    });
    it('a domain/resource item matches only that JID', () => {
      const items = new Set(['montague.net/bot']);
      assert.equal(blockMatches(items, j('montague.net/bot')), true);
      assert.equal(blockMatches(items, j('montague.net')), false);
      assert.equal(blockMatches(items, j('romeo@montague.net/bot')), false);
    });
    it('a domain item matches the domain and every JID at it, not other domains', () => {
      const items = new Set(['montague.net']);
      for (const s of ['montague.net', 'montague.net/x', 'romeo@montague.net', 'romeo@montague.net/orchard']) {
        assert.equal(blockMatches(items, j(s)), true, s);
      }
      assert.equal(blockMatches(items, j('romeo@capulet.net')), false);
      assert.equal(blockMatches(items, j('chat.montague.net')), false);
    });
    it('an empty list matches nothing', () => {
      assert.equal(blockMatches(new Set(), j('a@b')), false);
    });
  });

  describe('coveredAddresses', () => {
    it('names the contact when a bare or domain item covers it', () => {
      assert.deepEqual(coveredAddresses(new Set(['romeo@montague.net']), 'romeo@montague.net'), ['romeo@montague.net']);
      assert.deepEqual(coveredAddresses(new Set(['montague.net']), 'romeo@montague.net'), ['romeo@montague.net']);
    });
    it('names listed full JIDs of the contact one by one', () => {
      assert.deepEqual(coveredAddresses(new Set(['romeo@montague.net/a', 'x@y/a']), 'romeo@montague.net'), [
        'romeo@montague.net/a',
      ]);
      assert.deepEqual(coveredAddresses(new Set(['x@y']), 'romeo@montague.net'), []);
    });
  });

  describe('inboundAnswer (§3.3)', () => {
    const a = (s: string) => inboundAnswer(parseXml(s));
    it('drops presence of every type without answer', () => {
      for (const t of ['', " type='unavailable'", " type='subscribe'", " type='probe'"])
        assert.equal(a(`<presence${t}/>`), 'drop');
    });
    it('answers message and iq get/set with service-unavailable', () => {
      assert.equal(a("<message type='chat'><body>x</body></message>"), 'service-unavailable');
      assert.equal(a('<message><body>x</body></message>'), 'service-unavailable');
      assert.equal(a("<iq type='get' id='1'><query xmlns='jabber:iq:version'/></iq>"), 'service-unavailable');
      assert.equal(a("<iq type='set' id='1'><query xmlns='jabber:iq:version'/></iq>"), 'service-unavailable');
    });
    it('drops errors, iq results and headlines', () => {
      assert.equal(a("<message type='error'/>"), 'drop');
      assert.equal(a("<message type='headline'><body>x</body></message>"), 'drop');
      assert.equal(a("<iq type='result' id='1'/>"), 'drop');
      assert.equal(a("<iq type='error' id='1'/>"), 'drop');
    });
  });
});
