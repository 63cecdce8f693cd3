// RFC 6121 §8.5 message delivery rules for local accounts (the parts that need no roster).
import { Type } from '@sinclair/typebox';
import type { SessionInfo, StanzaEvent } from '../../core/hooks.js';
import { defineModule, type ModuleContext } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { errorReply } from '../../router/stanza.js';

type Ctx = ModuleContext<Record<string, never>>;

/** RFC 6121 §8.5.2: a message to a bare JID of a local account. */
async function toBare(ctx: Ctx, ev: StanzaEvent): Promise<void> {
  const type = ev.stanza.attrs.type ?? 'normal';
  if (type === 'error') return;
  const targets =
    type === 'headline'
      ? ctx.sessions.resources(ev.to).filter((s) => s.available && s.priority >= 0)
      : ctx.sessions.deliverable(ev.to);
  if (targets.length > 0) {
    // §8.5.2.1.1: groupchat to a bare JID is never delivered.
    if (type === 'groupchat') return bounce(ctx, ev, StanzaError.serviceUnavailable());
    for (const s of targets) s.send(ev.stanza);
    return delivered(ctx, ev, targets);
  }
  // Only now is a storage read needed: online resources prove the account exists.
  const exists =
    ctx.sessions.resources(ev.to).length > 0 || (await ctx.accounts.exists(ev.to.domain, ev.to.local ?? ''));
  if (!exists) {
    // §8.5.1: no such account.
    if (type !== 'headline') bounce(ctx, ev, StanzaError.serviceUnavailable());
    return;
  }
  // §8.5.2.2: no available resource.
  if (type === 'headline') return;
  if (type === 'groupchat') return bounce(ctx, ev, StanzaError.serviceUnavailable());
  if (await ctx.fire('message/offline', ev)) return delivered(ctx, ev, []);
  bounce(ctx, ev, StanzaError.serviceUnavailable());
}

/**
 * Tells the modules that follow delivery (carbons, XEP-0280 §7) who got the message. Awaited, so that what they
 * send keeps the order of the messages (RFC 6120 §10.1); their failure is logged, never bounced: the message
 * itself was delivered.
 */
async function delivered(ctx: Ctx, ev: StanzaEvent, sessions: readonly SessionInfo[]): Promise<void> {
  try {
    await ctx.fire('message-delivered', { stanza: ev.stanza, from: ev.from, to: ev.to, sessions });
  } catch (err) {
    ctx.log.error({ err }, 'a message-delivered handler failed');
  }
}

function bounce(ctx: Ctx, ev: StanzaEvent, err: StanzaError): void {
  ctx.send(errorReply(ev.stanza, err));
}

export default defineModule({
  name: 'message',
  specs: [{ rfc: 6121, status: 'partial', note: '§8.5 delivery rules; offline storage in its own module' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    ctx.hook('message/bare', (ev) => toBare(ctx, ev).then(() => true), -100);
    // RFC 6121 §8.5.3: a full JID gets the message if that resource is connected.
    ctx.hook(
      'message/full',
      async (ev) => {
        const session = ctx.sessions.get(ev.to);
        if (session) {
          session.send(ev.stanza);
          await delivered(ctx, ev, [session]);
          return true;
        }
        // §8.5.3.2.1: otherwise chat and normal are treated as sent to the bare JID; headline is dropped.
        const type = ev.stanza.attrs.type ?? 'normal';
        if (type === 'headline' || type === 'error') return true;
        if (type === 'groupchat') {
          bounce(ctx, ev, StanzaError.serviceUnavailable());
          return true;
        }
        await toBare(ctx, { ...ev, to: ev.to.bare() });
        return true;
      },
      -100,
    );
  },
});
