// RFC 3921 §3 session establishment, kept for old clients; RFC 6121 Appendix E makes it a no-op.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { NS } from '../../xml/ns.js';

export default defineModule({
  name: 'legacy_session',
  specs: [{ rfc: 3921, status: 'complete', note: 'session iq answered with an empty result (RFC 6121 Appendix E)' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    ctx.iq('set', NS.SESSION, 'session', () => undefined, ['self', 'host']);
  },
});
