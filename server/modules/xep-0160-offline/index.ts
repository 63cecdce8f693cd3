// XEP-0160 Best Practices for Handling Offline Messages: store messages for accounts with no available
// resource, deliver them when a resource sends non-negative available presence.
import { Type } from '@sinclair/typebox';
import type { SessionInfo, StanzaEvent } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { Jid } from '../../jid/index.js';
import { errorReply } from '../../router/stanza.js';
import type { Element } from '../../xml/element.js';
import type {} from '../xep-0191-blocking/types.js';
import { FEATURE_MSGOFFLINE, offlineDecision, withDelay } from './codec.js';
import { OfflineQueue } from './queue.js';

/** Live messages wait for a running delivery above the message module's delivery (-100), below policy (1000). */
const BEFORE_DELIVERY = 10;

export default defineModule({
  name: 'offline',
  specs: [
    { xep: 160, version: '1.0.1', status: 'complete' },
    { xep: 203, version: '2.0', status: 'partial', note: 'the server adds <delay/> to messages it stores offline' },
  ],
  options: Type.Object(
    {
      max_messages: Type.Integer({
        minimum: 1,
        default: 10_000,
        description: 'messages stored per account; further ones are bounced with resource-constraint',
      }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    // XEP-0191 §3.3: nothing from a JID the user has blocked since the message was stored is delivered.
    const accept = async (user: string, message: Element): Promise<boolean> => {
      const blocking = ctx.maybe('blocking');
      const from = Jid.tryParse(message.attrs.from);
      return !blocking || !from || !(await blocking.isBlocked(user, from));
    };
    const archive = ctx.store.archive<string>('offline');
    const queue = new OfflineQueue(archive, ctx.host, ctx.options.max_messages, ctx.log, accept);
    ctx.feature(FEATURE_MSGOFFLINE);

    // RFC 6121 §8.5.2.2: the message module found no available resource and asks whether we take the message.
    ctx.hook('message/offline', async (ev) => {
      const user = ev.to.local;
      if (user === null) return false;
      const decision = offlineDecision(ev.stanza);
      if (decision === 'refuse') return false;
      if (decision === 'discard') return true;
      const now = new Date();
      const result = await queue.store(user, withDelay(ev.stanza, ctx.host, now), ev.from.bareString);
      if (result === 'full') {
        // XEP-0160 §2 step 3: the queue is full, so the message cannot be stored; tell the sender to retry later.
        const err = new StanzaError('resource-constraint', 'the offline message store of this account is full', {
          type: 'wait',
        });
        ctx.send(errorReply(ev.stanza, err));
      }
      return true;
    });

    // XEP-0160 §2 step 5: deliver to the resource that sent non-negative available presence, and only to it:
    // at its initial presence, or later when it raises a negative priority (the presence module fires
    // 'session-deliverable' once per such change). The queue runs one delivery at a time per user and deletes
    // what it sent, so a second event finds nothing to send again.
    ctx.hook('session-deliverable', ({ session }) => {
      if (session.priority < 0) return;
      const target = (): SessionInfo[] =>
        ctx.sessions.get(session.jid) === session && session.available && session.priority >= 0 ? [session] : [];
      // Not awaited by the presence handler: a long queue must not hold up that resource's stream.
      queue
        .deliver(session.username, target)
        .catch((err: unknown) => ctx.log.error({ err, user: session.username }, 'offline delivery failed'));
    });

    // Live messages must not overtake stored ones (e.g. one arriving while the queue is being delivered).
    const beforeLive = async (ev: StanzaEvent, targets: () => SessionInfo[]): Promise<boolean> => {
      const type = ev.stanza.attrs.type ?? 'normal';
      if (ev.to.local === null || (type !== 'chat' && type !== 'normal')) return false;
      await queue.flushBefore(ev.to.local, targets);
      return false;
    };
    ctx.hook('message/bare', (ev) => beforeLive(ev, () => ctx.sessions.deliverable(ev.to)), BEFORE_DELIVERY);
    ctx.hook(
      'message/full',
      (ev) =>
        beforeLive(ev, () => {
          // RFC 6121 §8.5.3: a connected resource gets it; otherwise it is handled as if sent to the bare JID.
          const s = ctx.sessions.get(ev.to);
          if (!s) return ctx.sessions.deliverable(ev.to.bare());
          return s.available && s.priority >= 0 ? [s] : [];
        }),
      BEFORE_DELIVERY,
    );

    ctx.hook('user-deleted', ({ host, username }) => {
      if (host === ctx.host) queue.forget(username);
    });
  },
});
