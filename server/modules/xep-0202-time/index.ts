// XEP-0202 Entity Time: the server's clock, always given in UTC.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

/** XEP-0082 DateTime profile with no fractional seconds. */
export function xmppDateTime(d: Date): string {
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export default defineModule({
  name: 'time',
  specs: [{ xep: 202, version: '2.0', status: 'complete' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  setup(ctx) {
    ctx.feature(NS.TIME);
    ctx.iq('get', NS.TIME, 'time', () =>
      xml('time', { xmlns: NS.TIME }, xml('tzo', null, '+00:00'), xml('utc', null, xmppDateTime(new Date()))),
    );
  },
});
