// Unit tests of SIP digest authentication (gateways/sip/digest.ts) against the published examples of RFC 2617 §3.5
// and RFC 7616 §3.9.1, plus the client/server round trip.
import assert from 'node:assert/strict';
import {
  authorizationHeader,
  chooseChallenge,
  DigestClient,
  DigestServer,
  digestResponse,
  parseAuthParams,
  parseChallenge,
} from '../../../gateways/sip/digest.js';

describe('SIP digest authentication (RFC 2617, RFC 7616)', () => {
  it('computes the RFC 2617 §3.5 example (MD5, qop=auth)', () => {
    const ch = parseChallenge(
      'Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"',
    );
    assert.ok(ch);
    const r = digestResponse(ch, {
      username: 'Mufasa',
      password: 'Circle Of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: '0a4f113b',
      nc: 1,
    });
    assert.deepEqual(r, { response: '6629fae49393a05397450978507c4ef1', qop: 'auth' });
  });

  it('computes the RFC 7616 §3.9.1 examples (SHA-256 and MD5)', () => {
    const base =
      'realm="http-auth@example.org", qop="auth, auth-int", nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"';
    const input = {
      username: 'Mufasa',
      password: 'Circle of Life',
      method: 'GET',
      uri: '/dir/index.html',
      cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
      nc: 1,
    };
    const sha = parseChallenge(`Digest ${base}, algorithm=SHA-256`);
    const md5 = parseChallenge(`Digest ${base}, algorithm=MD5`);
    assert.ok(sha && md5);
    assert.equal(
      digestResponse(sha, input).response,
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
    assert.equal(digestResponse(md5, input).response, '8ca523f5e9506fed4657c9700eebdbec');
    const header = authorizationHeader(sha, input);
    const parsed = parseAuthParams(header);
    assert.equal(parsed?.params.get('nc'), '00000001');
    assert.equal(parsed?.params.get('algorithm'), 'SHA-256');
    assert.equal(parsed?.params.get('opaque'), sha.opaque);
  });

  it('prefers SHA-256 among several challenges and ignores unknown algorithms (RFC 8760 §2.4)', () => {
    const ch = chooseChallenge([
      'Digest realm="r", nonce="n1", algorithm=MD5',
      'Digest realm="r", nonce="n2", algorithm=SHA-512-256',
      'Digest realm="r", nonce="n3", algorithm=SHA-256',
    ]);
    assert.equal(ch?.algorithm, 'SHA-256');
    assert.equal(chooseChallenge(['Basic realm="r"', 'Digest realm="r", nonce="x", algorithm=FOO']), null);
    assert.equal(parseChallenge('Digest realm="r", nonce="n", stale=TRUE')?.stale, true);
    assert.equal(parseChallenge('Digest realm="r"'), null);
  });

  it('authenticates a client against the server; refuses a wrong password and a forged nonce', () => {
    const server = new DigestServer('sip.localhost', (u) => (u === 'bob' ? 'pw' : undefined));
    const client = new DigestClient('bob', 'pw');
    assert.deepEqual(client.headers('MESSAGE', 'sip:alice@localhost'), []);
    assert.ok(client.challenged(401, server.challenge()));
    const [name, value] = client.headers('MESSAGE', 'sip:alice@localhost')[0] ?? [];
    assert.equal(name, 'Authorization');
    assert.deepEqual(server.verify('MESSAGE', value), { ok: true, user: 'bob' });
    assert.deepEqual(server.verify('SUBSCRIBE', value), { ok: false, stale: false }, 'bound to the method');
    const wrong = new DigestClient('bob', 'nope');
    wrong.challenged(401, server.challenge());
    assert.deepEqual(server.verify('MESSAGE', wrong.headers('MESSAGE', 'sip:alice@localhost')[0]?.[1]), {
      ok: false,
      stale: false,
    });
    const other = new DigestServer('sip.localhost', () => 'pw');
    const forged = new DigestClient('bob', 'pw');
    forged.challenged(401, other.challenge());
    assert.equal(server.verify('MESSAGE', forged.headers('MESSAGE', 'sip:a@b')[0]?.[1]).ok, false);
    assert.equal(server.verify('MESSAGE', undefined).ok, false);
    assert.equal(server.verify('MESSAGE', 'Digest garbage').ok, false);
  });

  it('answers a proxy challenge with Proxy-Authorization (RFC 3261 §22.3)', () => {
    const client = new DigestClient('bob', 'pw');
    client.challenged(407, ['Digest realm="proxy", nonce="abc", qop="auth"']);
    assert.equal(client.headers('REGISTER', 'sip:example.com')[0]?.[0], 'Proxy-Authorization');
  });
});
