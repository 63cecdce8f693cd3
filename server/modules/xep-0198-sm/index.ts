// XEP-0198 Stream Management for client streams: acks with 'h' counters that wrap at 2^32, a queue of
// unacknowledged stanzas, resumption of a session whose connection was lost, and, when it is not resumed in
// time, offline storage of the messages the client never acknowledged.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { StreamError } from '../../errors/index.js';
import { xml } from '../../xml/element.js';
import { NS_SM, parseH } from './codec.js';
import { peekManager, type StreamManager } from './manager.js';
import { enable, resume, type SmDeps } from './negotiate.js';
import { disposeUnacked } from './unacked.js';

/** Unacknowledged stanzas are disposed of before any other module reacts to the session's end. */
const BEFORE_OTHERS = 1000;

export default defineModule({
  name: 'sm',
  specs: [
    {
      xep: 198,
      version: '1.6.3',
      status: 'complete',
      note: 'client streams; no SASL2/Bind2 inline negotiation; no location attribute',
    },
  ],
  options: Type.Object(
    {
      resume_timeout_seconds: Type.Integer({
        minimum: 1,
        maximum: 86_400,
        default: 300,
        description: 'how long a session whose connection was lost waits to be resumed (the max of <enabled/>)',
      }),
      max_unacked_stanzas: Type.Integer({
        minimum: 10,
        default: 5000,
        description: 'unacknowledged stanzas kept per session; beyond, the session ends (resource-constraint)',
      }),
      request_ack_after: Type.Integer({
        minimum: 1,
        default: 5,
        description: 'unacknowledged stanzas after which the server sends <r/>',
      }),
      request_ack_interval_seconds: Type.Integer({
        minimum: 1,
        default: 60,
        description: 'outstanding stanzas are asked about at least this often',
      }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    const o = ctx.options;
    const deps: SmDeps = {
      ctx,
      options: {
        maxUnacked: o.max_unacked_stanzas,
        requestAfter: o.request_ack_after,
        requestIntervalMs: o.request_ack_interval_seconds * 1000,
      },
      resumeSeconds: o.resume_timeout_seconds,
      resumable: new Map<string, StreamManager>(),
    };

    // §2: offered once the client is authenticated (before binding, so that a stream can be resumed).
    ctx.hook('stream-features', ({ session, features }) => {
      if (session.authenticated) features.push(xml('sm', { xmlns: NS_SM }));
    });

    ctx.hook('c2s-nonza', ({ session, element }) => {
      if (element.attrs.xmlns !== NS_SM) return false;
      const manager = peekManager(session);
      switch (element.name) {
        case 'enable':
          enable(deps, session, element);
          return true;
        case 'resume':
          return resume(deps, session, element).then(() => true);
        case 'r':
          if (!manager) return false;
          manager.answerRequest();
          return true;
        case 'a': {
          if (!manager) return false;
          const h = parseH(element.attrs.h);
          // §4: an <a/> MUST carry 'h', an xs:unsignedInt.
          if (h === null) session.close(new StreamError('invalid-xml', "<a/> needs an 'h' that is an unsignedInt"));
          else manager.acknowledge(h);
          return true;
        }
        default:
          return false;
      }
    });

    // §4: the session is over (closed, replaced, or not resumed in time): what the client never acknowledged is
    // stored offline or bounced before presence and the other modules see the end.
    ctx.hook(
      'resource-unbind',
      ({ session }) => {
        const manager = peekManager(session);
        if (!manager || manager.finished) return;
        if (manager.resumeId !== null) deps.resumable.delete(manager.resumeId);
        disposeUnacked(ctx, session, manager.finish());
      },
      BEFORE_OTHERS,
    );

    ctx.onClose(() => deps.resumable.clear());
  },
});
