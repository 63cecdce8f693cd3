// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax under test is literal text here
// The `component` listener and the `components:` section (XEP-0114).
import assert from 'node:assert/strict';
import { ConfigError, loadConfig } from '../../../server/config/index.js';

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ text, env });

function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    load(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    return err.problems.map((p) => `${p.path}: ${p.message}`);
  }
  assert.fail('configuration was accepted');
}

const LISTENER = 'listeners:\n  - { type: component }\n';

describe('config: components (XEP-0114)', () => {
  it('defaults the listener to loopback port 5347, no components and a 1 MiB stanza limit', () => {
    const c = load(`hosts: { localhost: {} }\n${LISTENER}`);
    assert.deepEqual(c.listeners, [{ type: 'component', address: '127.0.0.1', port: 5347 }]);
    assert.deepEqual(c.components, {});
    assert.equal(c.limits.component_stanza_bytes, 1048576);
  });

  it('reads components with secrets from the environment', () => {
    const c = load(
      `hosts: { localhost: {} }\n${LISTENER}components:\n  irc.localhost: { secret: "\${IRC_SECRET}", name: IRC }\n`,
      { IRC_SECRET: 's3cret' },
    );
    assert.deepEqual(c.components, { 'irc.localhost': { secret: 's3cret', name: 'IRC' } });
  });

  it('names an unset secret variable without echoing anything', () => {
    assert.deepEqual(
      problems(`hosts: { localhost: {} }\n${LISTENER}components:\n  irc.localhost: { secret: "\${NOPE}" }\n`),
      ['components["irc.localhost"].secret: environment variable NOPE is not set'],
    );
  });

  it('refuses a missing or empty secret, unknown keys and bad domains', () => {
    const found = problems(
      `hosts: { localhost: {} }\n${LISTENER}components:\n  a.localhost: {}\n  b.localhost: { secret: '' }\n  c.localhost: { secret: x, sercet: y }\n  Bad_Name: { secret: x }\n`,
    );
    assert.deepEqual(
      found.sort(),
      [
        'components.Bad_Name: must be lowercase ("bad_name")',
        'components["a.localhost"].secret: is required',
        'components["b.localhost"].secret: must not be empty',
        'components["c.localhost"]: unknown key "sercet" (did you mean "secret"?)',
      ].sort(),
    );
  });

  it('refuses a component domain that is also a local host', () => {
    assert.deepEqual(problems(`hosts: { localhost: {} }\n${LISTENER}components:\n  localhost: { secret: x }\n`), [
      'components.localhost: is also listed under hosts; a domain is served by one or the other',
    ]);
  });

  it('refuses components without a component listener', () => {
    assert.deepEqual(problems('hosts: { localhost: {} }\ncomponents:\n  irc.localhost: { secret: x }\n'), [
      'components: components are configured but no listener has type component',
    ]);
  });

  it('keeps component_stanza_bytes at or above the RFC 6120 §13.12 minimum', () => {
    assert.deepEqual(problems('hosts: { localhost: {} }\nlimits: { component_stanza_bytes: 9999 }\n'), [
      'limits.component_stanza_bytes: must be >= 10000',
    ]);
  });
});
