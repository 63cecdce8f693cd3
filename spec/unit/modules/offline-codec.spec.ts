// Unit: XEP-0160 offline codec (server/modules/xep-0160-offline/codec.ts).
import assert from 'node:assert/strict';
import {
  decodeOffline,
  encodeOffline,
  NS_DELAY,
  offlineDecision,
  onlyChatState,
  withDelay,
} from '../../../server/modules/xep-0160-offline/codec.js';
import { parseXml } from '../../../server/xml/element.js';

const msg = (s: string) => parseXml(s);

describe('XEP-0160 offline codec', () => {
  describe('offlineDecision (§3)', () => {
    it('stores normal (explicit or by default) and chat messages', () => {
      assert.equal(offlineDecision(msg('<message><body>x</body></message>')), 'store');
      assert.equal(offlineDecision(msg("<message type='normal'><body>x</body></message>")), 'store');
      assert.equal(offlineDecision(msg("<message type='chat'><body>x</body></message>")), 'store');
    });
    it('discards headline and error, refuses groupchat', () => {
      assert.equal(offlineDecision(msg("<message type='headline'><body>x</body></message>")), 'discard');
      assert.equal(offlineDecision(msg("<message type='error'><body>x</body></message>")), 'discard');
      assert.equal(offlineDecision(msg("<message type='groupchat'><body>x</body></message>")), 'refuse');
    });
    it('discards chat messages that carry only a chat state (XEP-0085)', () => {
      const cs = "<composing xmlns='http://jabber.org/protocol/chatstates'/>";
      assert.equal(offlineDecision(msg(`<message type='chat'>${cs}</message>`)), 'discard');
      assert.equal(offlineDecision(msg(`<message type='chat'>${cs}<thread>t1</thread></message>`)), 'discard');
      assert.equal(offlineDecision(msg(`<message type='chat'><body>hi</body>${cs}</message>`)), 'store');
    });
  });

  describe('onlyChatState', () => {
    it('is false for an empty message and for other payloads', () => {
      assert.equal(onlyChatState(msg('<message/>')), false);
      assert.equal(onlyChatState(msg("<message><received xmlns='urn:xmpp:receipts' id='1'/></message>")), false);
      assert.equal(onlyChatState(msg('<message>text</message>')), false);
    });
    it('ignores whitespace between children', () => {
      assert.equal(
        onlyChatState(msg("<message>\n  <active xmlns='http://jabber.org/protocol/chatstates'/>\n</message>")),
        true,
      );
    });
  });

  describe('withDelay (XEP-0203)', () => {
    it('adds a delay stamped by the server to a copy and leaves the original alone', () => {
      const original = msg("<message from='a@x/r' to='b@localhost' type='chat'><body>hi</body></message>");
      const before = original.toString();
      const when = new Date('2024-05-06T07:08:09.123Z');
      const stored = withDelay(original, 'localhost', when);
      assert.equal(original.toString(), before);
      const delay = stored.getChild('delay', NS_DELAY);
      assert.ok(delay, stored.toString());
      assert.equal(delay.attrs.from, 'localhost');
      assert.equal(delay.attrs.stamp, '2024-05-06T07:08:09.123Z');
      assert.equal(stored.getChildText('body'), 'hi');
      assert.equal(stored.attrs.from, 'a@x/r');
    });
  });

  describe('encode / decode', () => {
    it('round-trips a message with its delay', () => {
      const m = withDelay(
        msg("<message to='b@localhost'><body>a &amp; b &lt;c&gt;</body></message>"),
        'localhost',
        new Date(0),
      );
      const back = decodeOffline(encodeOffline(m));
      assert.equal(back.toString(), m.toString());
      assert.equal(back.getChildText('body'), 'a & b <c>');
    });
    it('rejects stored text that is not a message', () => {
      assert.throws(() => decodeOffline('<presence/>'), /not a message/);
      assert.throws(() => decodeOffline('<message'));
    });
  });
});
