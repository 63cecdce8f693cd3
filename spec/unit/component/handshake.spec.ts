// XEP-0114 §3 handshake digest and stream header checks (pure functions, no sockets).
import assert from 'node:assert/strict';
import { checkComponentHeader, handshakeDigest, verifyHandshake } from '../../../server/component/handshake.js';
import { NS } from '../../../server/xml/ns.js';

const header = (attrs: Record<string, string>, name = 'stream:stream') =>
  checkComponentHeader(name, { 'xmlns:stream': NS.STREAM, xmlns: NS.COMPONENT, ...attrs }, (d) => d === 'irc.example');

const condition = (r: ReturnType<typeof header>) => ('error' in r ? r.error.condition : 'ok');

describe('XEP-0114 handshake', () => {
  it('computes the example of XEP-0114 §3 (stream id 3BF96D32, secret "test")', () => {
    assert.equal(handshakeDigest('3BF96D32', 'test'), 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e');
  });

  it('hashes the secret as UTF-8', () => {
    assert.equal(handshakeDigest('id', 'pässword'), handshakeDigest('id', 'p\u00e4ssword'));
    assert.notEqual(handshakeDigest('id', 'pässword'), handshakeDigest('id', 'password'));
  });

  it('verifies the digest, whatever its hex case and surrounding whitespace', () => {
    assert.ok(verifyHandshake('3BF96D32', 'test', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e'));
    assert.ok(verifyHandshake('3BF96D32', 'test', ' AAEE83C26AEEAFCBABEABFCBCD50DF997E0A2A1E\n'));
  });

  it('refuses a wrong secret, another stream id, a truncated or empty digest', () => {
    assert.ok(!verifyHandshake('3BF96D32', 'wrong', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e'));
    assert.ok(!verifyHandshake('3BF96D33', 'test', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1e'));
    assert.ok(!verifyHandshake('3BF96D32', 'test', 'aaee83c26aeeafcbabeabfcbcd50df997e0a2a1'));
    assert.ok(!verifyHandshake('3BF96D32', 'test', ''));
    assert.ok(!verifyHandshake('3BF96D32', 'test', 'test'));
  });
});

describe('XEP-0114 stream header', () => {
  it('accepts a configured component name, prepared', () => {
    assert.deepEqual(header({ to: 'irc.example' }), { domain: 'irc.example' });
    assert.deepEqual(header({ to: 'IRC.Example' }), { domain: 'irc.example' });
  });

  it('answers an unknown, missing or malformed name with host-unknown', () => {
    assert.equal(condition(header({ to: 'sip.example' })), 'host-unknown');
    assert.equal(condition(header({})), 'host-unknown');
    assert.equal(condition(header({ to: 'a@b' })), 'host-unknown');
  });

  it('answers another content namespace or a non-stream with invalid-namespace', () => {
    assert.equal(condition(header({ to: 'irc.example', xmlns: NS.CLIENT })), 'invalid-namespace');
    assert.equal(condition(header({ to: 'irc.example', xmlns: 'jabber:component:connect' })), 'invalid-namespace');
    assert.equal(condition(header({ to: 'irc.example', 'xmlns:stream': 'urn:other' })), 'invalid-namespace');
    assert.equal(condition(header({ to: 'irc.example' }, 'stream:feed')), 'invalid-namespace');
  });
});
