import assert from 'node:assert/strict';
import { parseHostPort } from '../../../server/config/s2s-schema.js';
import {
  orderSrv,
  ResolveError,
  type ResolverLike,
  resolveTargets,
  type SrvRecord,
} from '../../../server/s2s/resolve.js';

function fakeDns(
  srv: Record<string, SrvRecord[]>,
  hosts: Record<string, string[]> = {},
): ResolverLike & { asked: string[] } {
  const asked: string[] = [];
  return {
    asked,
    resolveSrv: async (name) => {
      asked.push(name);
      const r = srv[name];
      if (!r) throw Object.assign(new Error('queryNotFound'), { code: 'ENOTFOUND' });
      return r;
    },
    lookup: async (host) => {
      asked.push(host);
      const r = hosts[host];
      if (!r) throw Object.assign(new Error('getaddrinfo ENOTFOUND'), { code: 'ENOTFOUND' });
      return r;
    },
  };
}

const rec = (name: string, priority: number, weight: number, port = 5269): SrvRecord => ({
  name,
  port,
  priority,
  weight,
});

describe('s2s target resolution (RFC 6120 §3.2, XEP-0368, RFC 2782)', () => {
  it('uses a static route without asking DNS', async () => {
    const dns = fakeDns({});
    const t = await resolveTargets('b.test', { 'b.test': '127.0.0.1:5370' }, dns);
    assert.deepEqual(t, [{ host: '127.0.0.1', port: 5370, directTls: false, via: 'route' }]);
    const d = await resolveTargets('c.test', { 'c.test': { address: '[::1]:5223', direct_tls: true } }, dns);
    assert.deepEqual(d, [{ host: '::1', port: 5223, directTls: true, via: 'route' }]);
    assert.deepEqual(dns.asked, []);
  });

  it('merges _xmpps-server and _xmpp-server records by priority', async () => {
    const dns = fakeDns({
      '_xmpps-server._tcp.example.org': [rec('tls.example.org', 5, 0, 5270)],
      '_xmpp-server._tcp.example.org': [rec('low.example.org', 20, 0), rec('high.example.org', 0, 0)],
    });
    const t = await resolveTargets('example.org', {}, dns);
    assert.deepEqual(
      t.map((x) => `${x.host}:${x.port}:${x.directTls}`),
      ['high.example.org:5269:false', 'tls.example.org:5270:true', 'low.example.org:5269:false'],
    );
  });

  it('falls back to the domain address on 5269 without SRV records (RFC 6120 §3.2.2)', async () => {
    const dns = fakeDns({}, { 'example.net': ['192.0.2.1', '2001:db8::1'] });
    const t = await resolveTargets('example.net', {}, dns);
    assert.deepEqual(
      t.map((x) => `${x.host}|${x.port}|${x.via}`),
      ['192.0.2.1|5269|a/aaaa', '2001:db8::1|5269|a/aaaa'],
    );
  });

  it('fails with ResolveError for a name that does not exist, or a "." SRV target', async () => {
    await assert.rejects(resolveTargets('nonexistent.invalid', {}, fakeDns({})), ResolveError);
    const dot = fakeDns({ '_xmpp-server._tcp.none.example': [rec('.', 0, 0)] });
    await assert.rejects(resolveTargets('none.example', {}, dot), /announces no XMPP server/);
  });

  it('orders equal priorities by weight: heavier records come first proportionally more often', () => {
    const records = [rec('light', 1, 10), rec('heavy', 1, 90), rec('later', 2, 100)];
    let heavyFirst = 0;
    let draw = 0;
    // A deterministic sequence of draws over [0, total].
    const rand = (max: number) => (draw++ * 37) % max;
    for (let i = 0; i < 200; i++) {
      const order = orderSrv(records, rand).map((r) => r.name);
      assert.equal(order[2], 'later', 'a higher priority value always comes after');
      if (order[0] === 'heavy') heavyFirst++;
    }
    assert.ok(heavyFirst > 150, `heavy first ${heavyFirst} of 200 times`);
  });

  it('parses host:port routes', () => {
    assert.deepEqual(parseHostPort('example.org:5269'), { host: 'example.org', port: 5269 });
    assert.deepEqual(parseHostPort('[2001:db8::1]:5269'), { host: '2001:db8::1', port: 5269 });
    assert.equal(parseHostPort('example.org'), null);
    assert.equal(parseHostPort('example.org:0'), null);
    assert.equal(parseHostPort('example.org:99999'), null);
    assert.equal(parseHostPort('[nope]:5269'), null);
  });
});
