// RFC 6121 §4 presence, the parts that need no roster: availability, priority and delivery to own resources.
// Subscriptions and broadcast to contacts extend this module (RFC 6121 §3, §4.2–§4.6).
import { Type } from '@sinclair/typebox';
import type { SessionInfo } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import type { Element } from '../../xml/element.js';

/** RFC 6121 §4.7.2.3: priority is an integer from -128 to +127; missing or invalid means 0. */
export function parsePriority(presence: Element): number {
  const text = presence.getChildText('priority');
  if (text === null || text === undefined) return 0;
  const n = Number.parseInt(text.trim(), 10);
  if (!Number.isFinite(n)) return 0;
  return Math.max(-128, Math.min(127, n));
}

/** Records a client's own broadcast presence on its session (RFC 6121 §4.2, §4.5). */
export function applyOwnPresence(session: SessionInfo, stanza: Element): 'available' | 'unavailable' | 'other' {
  const type = stanza.attrs.type;
  if (type === undefined) {
    session.presence = stanza;
    session.priority = parsePriority(stanza);
    session.available = true;
    return 'available';
  }
  if (type === 'unavailable') {
    session.presence = null;
    session.available = false;
    return 'unavailable';
  }
  return 'other';
}

export default defineModule({
  name: 'presence',
  specs: [{ rfc: 6121, status: 'partial', note: '§4 availability and priority' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    // A presence without 'to' arrives addressed to the sender's own bare JID (target 'self').
    ctx.hook(
      'presence/self',
      (ev) => {
        const session = ctx.sessions.get(ev.from);
        if (!session) return true;
        const kind = applyOwnPresence(session, ev.stanza);
        if (kind === 'other') return true;
        // RFC 6121 §4.2.2: the user's own available resources receive the broadcast.
        for (const s of ctx.sessions.resources(ev.from)) {
          if (s.available || s === session) s.send(ev.stanza);
        }
        return true;
      },
      -100,
    );
    // RFC 6121 §4.6: directed presence to a connected full JID is delivered.
    ctx.hook(
      'presence/full',
      (ev) => {
        ctx.sessions.get(ev.to)?.send(ev.stanza);
        return true;
      },
      -100,
    );
    ctx.hook(
      'presence/bare',
      (ev) => {
        for (const s of ctx.sessions.resources(ev.to)) if (s.available) s.send(ev.stanza);
        return true;
      },
      -100,
    );
  },
});
