import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { defaultConfig, loadConfig } from '../../../server/config/index.js';
import { moduleSchemas } from '../../../server/modules/registry.js';

const EXAMPLE = fileURLToPath(new URL('../../../switchboard.example.yaml', import.meta.url));

describe('switchboard.example.yaml', () => {
  it('loads against the real module registry', () => {
    const c = loadConfig({ file: EXAMPLE, env: {}, moduleSchemas: moduleSchemas() });
    assert.deepEqual(Object.keys(c.hosts), ['localhost']);
    assert.deepEqual(c.modules.version, { name: 'Switchboard', hide_os: false });
  });

  it('shows the defaults: apart from hosts and modules it equals the default configuration', () => {
    const {
      hosts: _h,
      modules: _m,
      ...example
    } = loadConfig({ file: EXAMPLE, env: {}, moduleSchemas: moduleSchemas() });
    const { hosts: _dh, modules: _dm, ...defaults } = defaultConfig();
    assert.deepEqual(example, defaults);
  });
});
