// RFC 6120 §8.2.3 and RFC 6121 §8.5: iq routing between local entities.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { errorReply } from '../../router/stanza.js';

export default defineModule({
  name: 'iq',
  specs: [{ rfc: 6120, status: 'complete', note: '§8.2.3 iq semantics; RFC 6121 §8.5 iq delivery' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    // RFC 6121 §8.5.3.1: an iq to a connected full JID is delivered to that resource.
    ctx.hook(
      'iq/full',
      (ev) => {
        const session = ctx.sessions.get(ev.to);
        if (session) {
          session.send(ev.stanza);
          return true;
        }
        // §8.5.3.2.1: no such resource: get/set gets service-unavailable, result/error is dropped.
        const type = ev.stanza.attrs.type;
        if (type === 'get' || type === 'set') ctx.send(errorReply(ev.stanza, StanzaError.serviceUnavailable()));
        return true;
      },
      -100,
    );
    // Results and errors addressed to the server answer requests it made (ctx.request); anything else is dropped.
    ctx.hook(
      'iq/host',
      (ev) => {
        const type = ev.stanza.attrs.type;
        if (type === 'result' || type === 'error') {
          ctx.need('iq-tracker').claim(ev.stanza);
          return true;
        }
        return false;
      },
      -100,
    );
  },
});
