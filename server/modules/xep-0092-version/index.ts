// XEP-0092 Software Version for the server itself.
import { readFileSync } from 'node:fs';
import { release, type } from 'node:os';
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? 'unknown';
  } catch {
    // Running from dist/ puts package.json one level further up.
    try {
      const pkg = JSON.parse(readFileSync(new URL('../../../../package.json', import.meta.url), 'utf8')) as {
        version?: string;
      };
      return pkg.version ?? 'unknown';
    } catch {
      return 'unknown';
    }
  }
}

export default defineModule({
  name: 'version',
  specs: [{ xep: 92, version: '1.1', status: 'complete' }],
  options: Type.Object(
    { name: Type.String({ default: 'Switchboard' }), hide_os: Type.Boolean({ default: false }) },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    const version = packageVersion();
    const os = `${type()} ${release()}; Node.js ${process.version}`;
    ctx.feature(NS.VERSION);
    ctx.iq('get', NS.VERSION, 'query', () =>
      xml(
        'query',
        { xmlns: NS.VERSION },
        xml('name', null, ctx.options.name),
        xml('version', null, version),
        // XEP-0092 §2: the os element is optional; operators may prefer not to reveal it.
        ctx.options.hide_os ? null : xml('os', null, os),
      ),
    );
  },
});
