// The `gateways:` configuration section (server/config/gateways-schema.ts) and the subsystem's driver checks.
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../server/config/index.js';
import { moduleSchemas } from '../../../server/modules/registry.js';
import { LoopbackNetwork, loopbackDefinition } from '../../helpers/loopback-gateway.js';
import { startTestServer } from '../../helpers/server.js';

const load = (gateways: string) =>
  loadConfig({
    text: `hosts:\n  localhost: {}\nstorage: { driver: memory }\ngateways:\n${gateways}`,
    moduleSchemas: moduleSchemas(),
  });

function problems(gateways: string): string[] {
  try {
    load(gateways);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems.map((p) => `${p.path}: ${p.message}`);
    throw err;
  }
  return [];
}

describe('config: gateways section', () => {
  it('fills defaults', () => {
    const c = load('  irc.localhost: { driver: irc }');
    assert.deepEqual(c.gateways['irc.localhost'], {
      driver: 'irc',
      allow: [],
      options: {},
      login_timeout_seconds: 30,
      send_timeout_seconds: 30,
      reconnect: { initial_seconds: 2, max_seconds: 300, stable_seconds: 60 },
    });
    assert.deepEqual(load('  {}').gateways, {});
  });

  it('refuses unknown keys, bad domains, bad allow entries and domains served twice', () => {
    const found = problems(
      [
        '  irc.localhost: { driver: irc, allw: [] }',
        '  Bad_Domain: { driver: irc }',
        '  localhost: { driver: irc }',
        "  sip.localhost: { driver: sip, allow: ['a@b@c', 'user@localhost/res', 'ok@localhost', 'localhost'] }",
        '  x.localhost: { driver: irc, reconnect: { initial_seconds: 10, max_seconds: 1 } }',
      ].join('\n'),
    ).join('\n');
    assert.match(found, /irc\.localhost.*allw/);
    assert.match(found, /Bad_Domain/);
    assert.match(found, /localhost: is also listed under hosts/);
    assert.match(found, /allow\[0\]/);
    assert.match(found, /allow\[1\]/);
    assert.doesNotMatch(found, /allow\[2\]|allow\[3\]/);
    assert.match(found, /max_seconds: must not be less than initial_seconds/);
  });

  it('refuses to start with an unknown driver or bad driver options, naming the path', async () => {
    const drivers = [loopbackDefinition(new LoopbackNetwork())];
    const yaml =
      'gateways:\n  a.localhost: { driver: nope }\n  b.localhost: { driver: loopback, options: { network_name: 5, extra: 1 } }';
    await assert.rejects(startTestServer({ gatewayDrivers: drivers, yaml }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      const text = err.problems.map((p) => `${p.path}: ${p.message}`).join('\n');
      assert.match(text, /gateways\.a\.localhost\.driver: unknown driver "nope" \(known: loopback\)/);
      assert.match(text, /gateways\.b\.localhost\.options\.network_name/);
      return true;
    });
  });
});
