// Unit: XEP-0280 carbons codec and error correlation (server/modules/xep-0280-carbons/).
import assert from 'node:assert/strict';
import {
  carbonCopy,
  carbonWrapper,
  eligibility,
  NS_CARBONS,
  noCopies,
  withoutPrivate,
} from '../../../server/modules/xep-0280-carbons/codec.js';
import { ErrorReplies } from '../../../server/modules/xep-0280-carbons/error-replies.js';
import { parseXml } from '../../../server/xml/element.js';
import { forwardedStanza, NS_FORWARD } from '../../../server/xml/forward.js';

const msg = (s: string) => parseXml(s);

describe('XEP-0280 carbons codec', () => {
  describe('eligibility (§6)', () => {
    it('copies chat messages, with or without a body (chat states included, §10.2)', () => {
      assert.equal(eligibility(msg("<message type='chat'><body>x</body></message>")), 'eligible');
      const cs = "<composing xmlns='http://jabber.org/protocol/chatstates'/>";
      assert.equal(eligibility(msg(`<message type='chat'>${cs}</message>`)), 'eligible');
    });
    it('copies normal messages only with a body', () => {
      assert.equal(eligibility(msg('<message><body>x</body></message>')), 'eligible');
      assert.equal(eligibility(msg("<message type='normal'><body>x</body></message>")), 'eligible');
      assert.equal(eligibility(msg("<message type='normal'><x xmlns='jabber:x:oob'/></message>")), 'ineligible');
    });
    it('leaves out groupchat, headline and anything from a MUC', () => {
      assert.equal(eligibility(msg("<message type='groupchat'><body>x</body></message>")), 'ineligible');
      assert.equal(eligibility(msg("<message type='headline'><body>x</body></message>")), 'ineligible');
      const pm = "<message type='chat'><body>x</body><x xmlns='http://jabber.org/protocol/muc#user'/></message>";
      assert.equal(eligibility(msg(pm)), 'ineligible');
    });
    it('marks errors for correlation', () => {
      assert.equal(eligibility(msg("<message type='error'><error type='cancel'/></message>")), 'error-reply');
    });
  });

  it('recognises <private/> and the XEP-0334 no-copy hint, and removes <private/> in a copy (§9)', () => {
    const priv = msg(`<message type='chat'><body>x</body><private xmlns='${NS_CARBONS}'/></message>`);
    assert.equal(noCopies(priv), true);
    assert.equal(noCopies(msg("<message type='chat'><body>x</body><no-copy xmlns='urn:xmpp:hints'/></message>")), true);
    assert.equal(noCopies(msg("<message type='chat'><body>x</body></message>")), false);
    const stripped = withoutPrivate(priv);
    assert.notEqual(stripped, priv);
    assert.equal(stripped.getChild('private', NS_CARBONS), undefined);
    assert.ok(priv.getChild('private', NS_CARBONS), 'the original is not changed');
    const plain = msg('<message><body>x</body></message>');
    assert.equal(withoutPrivate(plain), plain);
  });

  it('finds sent and received wrappers, prefixed ones too (§11)', () => {
    assert.equal(carbonWrapper(msg(`<message><sent xmlns='${NS_CARBONS}'/></message>`)), 'sent');
    assert.equal(carbonWrapper(msg(`<message><received xmlns='${NS_CARBONS}'/></message>`)), 'received');
    assert.equal(carbonWrapper(msg(`<message xmlns:c='${NS_CARBONS}'><c:received/></message>`)), 'received');
    assert.equal(carbonWrapper(msg("<message><sent xmlns='urn:other'/></message>")), undefined);
  });

  it('builds a copy from the bare JID to the resource, keeping the type, around a jabber:client copy (§7)', () => {
    const original = msg(
      "<message from='juliet@capulet.example/balcony' to='romeo@montague.example/garden' type='chat'><body>hi</body></message>",
    );
    const copy = carbonCopy('received', original, 'romeo@montague.example', 'romeo@montague.example/home');
    assert.equal(copy.attrs.from, 'romeo@montague.example');
    assert.equal(copy.attrs.to, 'romeo@montague.example/home');
    assert.equal(copy.attrs.type, 'chat');
    const wrapper = copy.getChild('received', NS_CARBONS);
    assert.ok(wrapper?.getChild('forwarded', NS_FORWARD));
    const inner = wrapper && forwardedStanza(wrapper);
    assert.equal(inner?.attrs.xmlns, 'jabber:client');
    assert.equal(inner?.getChildText('body'), 'hi');
    assert.equal(original.attrs.xmlns, undefined, 'the original is not changed');
    assert.equal(original.parent, null);
    const untyped = carbonCopy('sent', msg('<message><body>x</body></message>'), 'a@b', 'a@b/c');
    assert.equal(untyped.attrs.type, undefined);
  });

  it('correlates an error with the eligible message it answers, both ways, within a bounded memory', () => {
    const r = new ErrorReplies(2);
    r.remember('sent', 'romeo@m', 'juliet@c', 'id1');
    assert.equal(r.answers('received', 'romeo@m', 'juliet@c', 'id1'), true);
    assert.equal(r.answers('received', 'romeo@m', 'nurse@c', 'id1'), false);
    assert.equal(r.answers('sent', 'romeo@m', 'juliet@c', 'id1'), false);
    assert.equal(r.answers('received', 'romeo@m', 'juliet@c', undefined), false);
    r.remember('received', 'romeo@m', 'juliet@c', 'id2');
    assert.equal(r.answers('sent', 'romeo@m', 'juliet@c', 'id2'), true);
    r.remember('received', 'romeo@m', 'juliet@c', 'id3');
    assert.equal(r.answers('received', 'romeo@m', 'juliet@c', 'id1'), false, 'the oldest is forgotten');
  });
});
