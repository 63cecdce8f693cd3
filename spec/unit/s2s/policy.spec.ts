import assert from 'node:assert/strict';
import { loadConfig } from '../../../server/config/index.js';
import { FederationPolicy, RateLimiter } from '../../../server/s2s/policy.js';

describe('s2s policy and rate limit', () => {
  it('allows all by default, or per allow or deny list, with per-host overrides', () => {
    const all = new FederationPolicy({ policy: 'allow_all', domains: [], per_host: {} });
    assert.equal(all.allows('a.test', 'anything.example'), true);
    const deny = new FederationPolicy({
      policy: 'deny_list',
      domains: ['evil.example'],
      per_host: { 'private.test': { policy: 'allow_list', domains: ['partner.example'] } },
    });
    assert.equal(deny.allows('a.test', 'evil.example'), false);
    assert.equal(deny.allows('a.test', 'good.example'), true);
    assert.equal(deny.allows('private.test', 'good.example'), false);
    assert.equal(deny.allows('private.test', 'partner.example'), true);
  });

  it('gives a burst of tokens per domain, then refills at the configured rate', () => {
    let now = 0;
    const r = new RateLimiter(2, 3, () => now);
    assert.deepEqual([r.take('x'), r.take('x'), r.take('x')], [0, 0, 0]);
    assert.equal(r.take('x'), 500, 'the next token comes in half a second at 2/s');
    assert.equal(r.take('y'), 0, 'buckets are per domain');
    now += 500;
    assert.equal(r.take('x'), 0);
    now += 10_000;
    r.sweep();
    assert.deepEqual(
      [r.take('x'), r.take('x'), r.take('x'), r.take('x') > 0],
      [0, 0, 0, true],
      'refilled to the burst only',
    );
    assert.equal(new RateLimiter(0, 1).take('x'), 0, 'rate 0 turns limiting off');
  });

  it('reads the s2s section with defaults and refuses malformed routes and unknown hosts', () => {
    const c = loadConfig({ text: 'hosts: { a.test: {} }', env: {} });
    assert.equal(c.s2s.enabled, true);
    assert.equal(c.s2s.require_tls, true);
    assert.equal(c.s2s.idle_timeout_seconds, 300);
    assert.equal(c.s2s.policy, 'allow_all');
    assert.throws(
      () =>
        loadConfig({
          text: 'hosts: { a.test: {} }\ns2s:\n  routes: { b.test: "nowhere", c.test: { address: "x:1", direct_tls: yes } }\n  per_host: { z.test: {} }',
          env: {},
        }),
      (err: Error) =>
        /s2s\.routes\["b\.test"\]: must be "host:port"/.test(err.message) &&
        /s2s\.per_host\["z\.test"\]: is not a host listed under hosts/.test(err.message),
    );
  });
});
