// biome-ignore-all lint/suspicious/noTemplateCurlyInString: the ${VAR} syntax under test is literal text here
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Type } from '@sinclair/typebox';
import { ConfigError, type ConfigProblem, defaultConfig, loadConfig } from '../../../server/config/index.js';
import { SwitchboardError } from '../../../server/errors/index.js';

const moduleSchemas = {
  ping: Type.Object({}, { additionalProperties: false }),
  version: Type.Object(
    { name: Type.String({ default: 'Switchboard' }), hide_os: Type.Boolean({ default: false }) },
    { additionalProperties: false },
  ),
  gateway: Type.Object({ server: Type.String() }, { additionalProperties: false }),
};

const load = (text: string, env: NodeJS.ProcessEnv = {}) => loadConfig({ text, env, moduleSchemas });

/** The problems of a config that must fail, as "path: message" strings. */
function problems(text: string, env: NodeJS.ProcessEnv = {}): string[] {
  return problemList(text, env).map((p) => `${p.path}: ${p.message}`);
}

function problemList(text: string, env: NodeJS.ProcessEnv = {}): readonly ConfigProblem[] {
  try {
    load(text, env);
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected ConfigError, got ${String(err)}`);
    assert.equal(err.code, 'SB_ERR_CONFIG_INVALID');
    return err.problems;
  }
  assert.fail('configuration was accepted');
}

describe('config loader', () => {
  describe('defaults', () => {
    it('makes a config with only hosts runnable', () => {
      const c = load('hosts:\n  localhost:\n');
      assert.deepEqual(c.hosts, { localhost: {} });
      assert.deepEqual(c.listeners, [
        { type: 'c2s', address: '0.0.0.0', port: 5222, tls: 'starttls' },
        { type: 'c2s', address: '0.0.0.0', port: 5223, tls: 'direct' },
        { type: 'http', address: '127.0.0.1', port: 5280 },
        { type: 's2s', address: '0.0.0.0', port: 5269, tls: 'starttls' },
      ]);
      assert.deepEqual(c.tls, { self_signed: true, min_version: 'TLSv1.2', require_c2s: true });
      assert.deepEqual(c.storage, { driver: 'sqlite', path: join('data', 'switchboard.sqlite') });
      assert.equal(c.data_dir, 'data');
      assert.deepEqual(c.limits, {
        c2s_stanza_bytes: 262144,
        max_depth: 32,
        max_attributes: 64,
        c2s_timeout_seconds: 300,
        component_stanza_bytes: 1048576,
      });
      assert.deepEqual(c.auth.mechanisms, [
        'SCRAM-SHA-256-PLUS',
        'SCRAM-SHA-256',
        'SCRAM-SHA-1-PLUS',
        'SCRAM-SHA-1',
        'PLAIN',
      ]);
      assert.equal(c.auth.scram_iterations, 4096);
      assert.deepEqual(c.auth.throttle, { max_failures: 5, window_seconds: 60, lockout_seconds: 60 });
      assert.deepEqual(c.log, { level: 'info' });
    });

    it('defaultConfig() serves localhost with every default', () => {
      const c = defaultConfig();
      assert.deepEqual(Object.keys(c.hosts), ['localhost']);
      assert.equal(c.listeners.length, 4);
      assert.deepEqual(c.modules, {});
    });

    it('fills defaults inside partially given sections and listeners', () => {
      const c = load(`
hosts: { example.com: {} }
listeners: [{ type: c2s, port: 15222 }, { type: http, port: 0 }]
auth: { throttle: { max_failures: 3 } }
limits: { max_depth: 16 }
data_dir: /var/lib/switchboard
`);
      assert.deepEqual(c.listeners, [
        { type: 'c2s', address: '0.0.0.0', port: 15222, tls: 'starttls' },
        { type: 'http', address: '127.0.0.1', port: 0 },
      ]);
      assert.deepEqual(c.auth.throttle, { max_failures: 3, window_seconds: 60, lockout_seconds: 60 });
      assert.equal(c.limits.max_depth, 16);
      assert.equal(c.limits.max_attributes, 64);
      assert.deepEqual(c.storage, { driver: 'sqlite', path: join('/var/lib/switchboard', 'switchboard.sqlite') });
    });

    it('fills module option defaults, given or not, and keeps other storage drivers as written', () => {
      const c = load('hosts: { localhost: {} }\nstorage: { driver: memory }\nmodules: { version: { hide_os: true } }');
      assert.deepEqual(c.storage, { driver: 'memory' });
      assert.deepEqual(c.modules.version, { name: 'Switchboard', hide_os: true });
      assert.deepEqual(c.modules.ping, {});
      // A module whose options need values nobody gave is left out for the module manager to refuse.
      assert.equal('gateway' in c.modules, false);
    });
  });

  describe('errors name the path', () => {
    it('reports wrong types with the YAML path and line', () => {
      const list = problemList(`hosts:
  localhost: {}
listeners:
  - { type: c2s, port: 5222 }
  - { type: c2s, port: five }
tls: { self_signed: yes please }
`);
      assert.deepEqual(list, [
        { path: 'listeners[1].port', message: 'must be integer (got a string)', line: 5 },
        { path: 'tls.self_signed', message: 'must be boolean (true or false) (got a string)', line: 6 },
      ]);
    });

    it('reports every kind of problem at once', () => {
      const found = problems(`
hosts:
  localhost:
    tls: { cert: a.pem }
listeners:
  - { type: c2s, port: 70000, tls: bogus }
  - { type: smtp, port: 25 }
  - { port: 1 }
  - 5
storage: { driver: postgres }
limits: { max_depth: 2, c2s_stanza_bytes: 1.5 }
auth: { mechanisms: [PLAIN, PLAIN, FOO], throttle: [] }
log: { level: loud }
data_dir: ''
`);
      assert.deepEqual(found.sort(), [
        'auth.mechanisms: must not list the same value twice',
        'auth.mechanisms[2]: must be one of: SCRAM-SHA-256-PLUS, SCRAM-SHA-256, SCRAM-SHA-1-PLUS, SCRAM-SHA-1, PLAIN',
        'auth.throttle: must be a mapping (got a list)',
        'data_dir: must not be empty',
        'hosts.localhost.tls.key: is required',
        'limits.c2s_stanza_bytes: must be integer (got a number)',
        'limits.max_depth: must be >= 4',
        'listeners[0].port: must be <= 65535',
        'listeners[0].tls: must be one of: starttls, direct, none',
        'listeners[1].type: must be one of: c2s, http, component, s2s',
        'listeners[2].type: is required',
        'listeners[3]: must be a mapping (got a number)',
        'log.level: must be one of: fatal, error, warn, info, debug, trace, silent',
        'storage.url: is required',
      ]);
    });

    it('puts every problem in the error message', () => {
      assert.throws(
        () => load('hosts: { localhost: {} }\nlisteners: [{ type: c2s, port: -1 }]\nlog: { level: 3 }'),
        (err: unknown) => {
          assert.ok(err instanceof SwitchboardError);
          assert.equal(err.code, 'SB_ERR_CONFIG_INVALID');
          assert.match(err.message, /listeners\[0\]\.port: must be >= 0 \(line 2\)/);
          assert.match(err.message, /log\.level: must be one of: .* \(line 3\)/);
          return true;
        },
      );
    });

    it('requires hosts, and at least one', () => {
      assert.deepEqual(problems(''), ['hosts: is required']);
      assert.deepEqual(problems('hosts: {}'), ['hosts: must have at least 1 entry']);
      assert.deepEqual(problems('- a'), [': the configuration must be a mapping (got a list)']);
    });

    it('checks host names', () => {
      assert.deepEqual(problems('hosts: { Example.com: {}, "1.2.3.4": {}, "-bad.example": {}, "a..b": {} }').sort(), [
        'hosts["-bad.example"]: is not a valid host name',
        'hosts["1.2.3.4"]: must be a domain name, not an IP address',
        'hosts["Example.com"]: must be lowercase ("example.com")',
        'hosts["a..b"]: is not a valid host name',
      ]);
      assert.doesNotThrow(() => load('hosts: { localhost: {}, chat.example.org: {}, "bücher.example": {} }'));
    });

    it('checks ports and refuses duplicate listener addresses', () => {
      assert.deepEqual(
        problems(`hosts: { localhost: {} }
listeners:
  - { type: c2s, port: 5222 }
  - { type: http, port: 5222 }
  - { type: c2s, port: 0 }
  - { type: c2s, port: 0 }
  - { type: http, port: 5280, address: "not an address" }
  - { type: c2s, port: 5.5 }`),
        [
          'listeners[1].port: 127.0.0.1:5222 overlaps listeners[0] (0.0.0.0:5222)',
          'listeners[4].address: must be an IP address or a host name',
          'listeners[5].port: must be integer (got a number)',
        ],
      );
      assert.doesNotThrow(() =>
        load(`hosts: { localhost: {} }
listeners:
  - { type: c2s, port: 65535, address: "::1" }
  - { type: c2s, port: 65535, address: 127.0.0.1 }`),
      );
    });

    it('checks certificate settings across sections', () => {
      assert.deepEqual(problems('hosts: { localhost: {} }\ntls: { key: k.pem }'), [
        'tls.cert: is required when tls.key is set',
      ]);
      assert.deepEqual(
        problems('hosts: { localhost: {}, a.example: { tls: { cert: c, key: k } } }\ntls: { self_signed: false }'),
        ['tls.cert: is required when tls.self_signed is false (no certificate for: localhost)'],
      );
      assert.deepEqual(problems('hosts: { localhost: {} }\nlisteners: [{ type: c2s, port: 5222, tls: none }]'), [
        'listeners[0].tls: "none" leaves clients no way to authenticate while tls.require_c2s is true',
      ]);
      const c = load(
        'hosts: { localhost: {} }\nlisteners: [{ type: c2s, port: 5222, tls: none }]\ntls: { require_c2s: false }',
      );
      assert.equal(c.listeners[0]?.type === 'c2s' && c.listeners[0].tls, 'none');
    });
  });

  describe('unknown keys', () => {
    it('are refused at every depth, with a hint for near misses', () => {
      const list = problemList(`
hosts:
  localhost:
    tls: { cert: c, key: k, password: x }
    registration: true
listeners:
  - { type: http, port: 5280, tls: direct }
tls: { self_signd: true }
auth: { throttle: { max_failure: 5 } }
limit: {}
logging: {}
`);
      assert.deepEqual(
        list.map((p) => `${p.path}: ${p.message} @${p.line}`),
        [
          'hosts.localhost.tls: unknown key "password" @4',
          'hosts.localhost: unknown key "registration" @5',
          'listeners[0]: unknown key "tls" @7',
          'tls: unknown key "self_signd" (did you mean "self_signed"?) @8',
          'auth.throttle: unknown key "max_failure" (did you mean "max_failures"?) @9',
          ': unknown key "limit" (did you mean "limits"?) @10',
          ': unknown key "logging" @11',
        ],
      );
    });

    it('are refused in module options, as are unknown modules', () => {
      assert.deepEqual(
        problems(`hosts:
  localhost: { modules: [ping, pong, ping] }
modules:
  version: { name: 5, colour: blue }
  nope: {}`).sort(),
        [
          'hosts.localhost.modules[1]: unknown module "pong" (did you mean "ping"?)',
          'hosts.localhost.modules[2]: module "ping" is listed twice',
          'modules.nope: unknown module "nope"',
          'modules.version.name: must be string (got a number)',
          'modules.version: unknown key "colour"',
        ],
      );
    });

    it('treats "__proto__" as an ordinary (unknown) key, never as a prototype', () => {
      assert.deepEqual(problems('hosts: { localhost: {}, __proto__: {} }\n__proto__: { polluted: 1 }').sort(), [
        ': unknown key "__proto__"',
        'hosts.__proto__: is not a valid host name',
      ]);
      assert.equal(({} as Record<string, unknown>).polluted, undefined);
    });

    it('knows no module when no schemas are given', () => {
      assert.throws(
        () => loadConfig({ text: 'hosts: { localhost: { modules: [ping] } }', env: {} }),
        /unknown module "ping"/,
      );
    });
  });

  describe('environment interpolation', () => {
    it('replaces ${VAR} and ${VAR:-default} in strings', () => {
      const c = load(
        `hosts: { localhost: {} }
data_dir: "\${STATE}/xmpp"
storage: { driver: postgres, url: "postgres://\${DB_USER:-switchboard}@\${DB_HOST:-localhost}/db" }
log: { level: "\${LEVEL:-info}", file: "$\${literal}" }`,
        { STATE: '/srv', DB_HOST: 'db.internal', LEVEL: '' },
      );
      assert.equal(c.data_dir, '/srv/xmpp');
      assert.deepEqual(c.storage, { driver: 'postgres', url: 'postgres://switchboard@db.internal/db' });
      // ":-" also covers a variable that is set but empty, as in the shell.
      assert.equal(c.log.level, 'info');
      assert.equal(c.log.file, '${literal}');
    });

    it('turns a whole-value reference into a number or boolean where the schema wants one', () => {
      const c = load(
        `hosts: { localhost: {} }
listeners: [{ type: c2s, port: "\${PORT}", address: "\${ADDR:-::}" }]
tls: { require_c2s: "\${REQUIRE:-true}" }
modules: { version: { name: "\${NAME}" } }`,
        { PORT: '15222', NAME: '1234' },
      );
      assert.deepEqual(c.listeners, [{ type: 'c2s', address: '::', port: 15222, tls: 'starttls' }]);
      assert.equal(c.tls.require_c2s, true);
      // A string option stays a string even when the variable looks like a number.
      assert.deepEqual(c.modules.version, { name: '1234', hide_os: false });
    });

    it('reports unset variables and malformed references by path, without echoing values', () => {
      assert.deepEqual(
        problems(`hosts: { localhost: {} }
storage: { driver: postgres, url: "\${DATABASE_URL}" }
listeners: [{ type: c2s, port: "\${PORT}" }]
data_dir: "\${not valid} \${open"`),
        [
          'storage.url: environment variable DATABASE_URL is not set',
          'listeners[0].port: environment variable PORT is not set',
          'data_dir: has an unterminated "${" (write "$${" for a literal)',
          'data_dir: malformed reference "${not valid}" (expected ${NAME} or ${NAME:-default})',
        ],
      );
      assert.deepEqual(
        problems('hosts: { localhost: {} }\nlisteners: [{ type: c2s, port: "${PORT}" }]', { PORT: 'secret' }),
        ['listeners[0].port: must be integer (got a string)'],
      );
    });
  });

  describe('YAML and files', () => {
    it('reports syntax errors with line and column', () => {
      const list = problemList('hosts:\n  localhost: {\n  bad: [1, 2\n');
      assert.ok(list.length >= 1 && list.length <= 3);
      assert.match(list[0]?.message ?? '', /^YAML syntax error: /);
      assert.equal(typeof list[0]?.line, 'number');
      assert.equal(typeof list[0]?.column, 'number');
      assert.deepEqual(
        problemList('hosts: {}\nhosts: {}').map((p) => [p.message, p.line]),
        [['YAML syntax error: Map keys must be unique', 2]],
      );
    });

    it('reads a file, and says so when it is missing', () => {
      const dir = mkdtempSync(join(tmpdir(), 'sb-config-'));
      try {
        const file = join(dir, 'switchboard.yaml');
        writeFileSync(file, 'hosts:\n  localhost:\nlog: { level: warn }\n');
        assert.equal(loadConfig({ file, env: {} }).log.level, 'warn');
        assert.throws(
          () => loadConfig({ file: join(dir, 'missing.yaml') }),
          (err: unknown) =>
            err instanceof SwitchboardError &&
            err.code === 'SB_ERR_CONFIG_NOT_FOUND' &&
            /missing\.yaml/.test(err.message),
        );
        writeFileSync(file, 'hosts:\n  localhost:\nlog: { level: loud }\n');
        assert.throws(
          () => loadConfig({ file, env: {} }),
          new RegExp(`invalid configuration in ${file.replace(/\\/g, '\\\\')}`),
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });
});
