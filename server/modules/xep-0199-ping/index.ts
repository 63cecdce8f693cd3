// XEP-0199 XMPP Ping: the server answers pings to itself and to an account's bare JID on its behalf.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { NS } from '../../xml/ns.js';

export default defineModule({
  name: 'ping',
  specs: [{ xep: 199, version: '2.0.1', status: 'complete' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  setup(ctx) {
    ctx.feature(NS.PING);
    ctx.iq('get', NS.PING, 'ping', () => undefined, ['host', 'self']);
  },
});
