import assert from 'node:assert/strict';
import { DialbackKeys, dialbackError, parseDialback } from '../../../server/s2s/dialback.js';
import { parseXml } from '../../../server/xml/element.js';

describe('s2s dialback codec and keys (XEP-0220, XEP-0185)', () => {
  it('generates the keys of the XEP-0220 §2.1.1 and §2.2.2 examples', () => {
    const capulet = new DialbackKeys(Buffer.from('s3cr3tf0rd14lb4ck'));
    assert.equal(
      capulet.generate('montague.example', 'capulet.example', 'D60000229F'),
      'b4835385f37fe2895af6c196b59097b16862406db80559900d96bf6fa7d23df3',
    );
    const montague = new DialbackKeys(Buffer.from('d14lb4ck43v3r'));
    assert.equal(
      montague.generate('capulet.example', 'montague.example', '417GAF25'),
      '225cc5aa6a071133249d25fef42ae516fc7a86c523aa1c6980a7f73e784c972d',
    );
  });

  it('verifies its own keys only, for the same domains and stream id', () => {
    const keys = new DialbackKeys();
    const key = keys.generate('b.test', 'a.test', 'id1');
    assert.equal(keys.verify('b.test', 'a.test', 'id1', key), true);
    assert.equal(keys.verify('b.test', 'a.test', 'id1', ` ${key}\n`), true, 'whitespace around the key');
    assert.equal(keys.verify('b.test', 'a.test', 'id2', key), false);
    assert.equal(keys.verify('a.test', 'b.test', 'id1', key), false);
    assert.equal(keys.verify('b.test', 'a.test', 'id1', 'short'), false);
    assert.equal(new DialbackKeys().verify('b.test', 'a.test', 'id1', key), false, 'another secret');
  });

  it('parses requests and answers, and refuses incomplete elements', () => {
    const req = parseDialback(
      parseXml("<db:result xmlns:db='jabber:server:dialback' from='a' to='b'> k </db:result>"),
      'result',
    );
    assert.deepEqual(req, {
      kind: 'result',
      from: 'a',
      to: 'b',
      id: undefined,
      type: undefined,
      key: 'k',
      condition: undefined,
    });
    const err = parseDialback(
      parseXml(
        "<db:verify xmlns:db='jabber:server:dialback' from='b' to='a' id='1' type='error'><error type='cancel'><item-not-found xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></db:verify>",
      ),
      'verify',
    );
    assert.equal(err?.type, 'error');
    assert.equal(err?.condition, 'item-not-found');
    assert.equal(
      parseDialback(parseXml("<db:verify from='a' to='b'>k</db:verify>"), 'verify'),
      null,
      'verify needs an id',
    );
    assert.equal(parseDialback(parseXml("<db:result to='b'>k</db:result>"), 'result'), null, 'from is required');
    assert.equal(parseDialback(parseXml("<db:result from='a' to='b' type='maybe'/>"), 'result'), null);
  });

  it('builds dialback errors with from and to swapped (XEP-0220 §2.5)', () => {
    const el = dialbackError({ kind: 'result', from: 'a.test', to: 'x.test', id: undefined }, 'item-not-found');
    assert.equal(
      el.toString(),
      '<db:result from="x.test" to="a.test" type="error"><error type="cancel"><item-not-found xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></db:result>',
    );
  });
});
