// XEP-0198 §4: before a session's state is discarded, the stanzas its client never acknowledged are treated like
// stanzas sent to an unavailable resource: messages go to offline storage (XEP-0160), requests get an error,
// the rest is dropped.
import type { Origin, SessionInfo } from '../../core/hooks.js';
import type { ModuleContext } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { Jid } from '../../jid/index.js';
import { errorReply, mayBounce } from '../../router/stanza.js';
import type { Element } from '../../xml/element.js';

const LOCAL: Origin = { kind: 'local', jid: null, send: () => {} };
/** Copies of messages that exist elsewhere: XEP-0280 carbons and XEP-0313 archive results. */
const FORWARDED_COPIES: readonly [string, string][] = [
  ['received', 'urn:xmpp:carbons:2'],
  ['sent', 'urn:xmpp:carbons:2'],
  ['result', 'urn:xmpp:mam:2'],
];

export type Disposal = 'offline' | 'bounce' | 'drop';

/**
 * What becomes of an unacknowledged stanza. Messages of type chat and normal are stored offline as XEP-0160 §3
 * and RFC 6121 §8.5.2.2 prescribe for an unavailable recipient (the offline module discards mere chat states);
 * headline, groupchat and error messages are dropped, as for an unavailable resource (RFC 6121 §8.5.3.2.1), and
 * so are forwarded copies (carbons, archive results), whose originals were delivered or archived. iq requests
 * are answered with an error (RFC 6121 §8.5.3.2.2); presence is state, which a later session gets afresh.
 */
export function disposal(el: Element): Disposal {
  if (el.name === 'message') {
    const type = el.attrs.type ?? 'normal';
    if (type !== 'chat' && type !== 'normal') return 'drop';
    if (FORWARDED_COPIES.some(([name, ns]) => el.getChild(name, ns))) return 'drop';
    return 'offline';
  }
  if (el.name === 'iq' && (el.attrs.type === 'get' || el.attrs.type === 'set')) return 'bounce';
  return 'drop';
}

/**
 * Disposes of a session's unacknowledged stanzas, in order. Every 'message/offline' event is fired in this same
 * turn, one after the other, so that the offline queue receives them before any message routed later.
 */
export function disposeUnacked(ctx: ModuleContext<unknown>, session: SessionInfo, els: Element[]): void {
  let stored = 0;
  let bounced = 0;
  for (const el of els) {
    const what = disposal(el);
    if (what === 'bounce') {
      bounce(ctx, el);
      bounced++;
    } else if (what === 'offline') {
      store(ctx, session, el);
      stored++;
    }
  }
  if (els.length > 0) {
    ctx.log.info(
      { jid: session.jid.toString(), unacked: els.length, stored, bounced },
      'stream management: unacknowledged stanzas disposed of',
    );
  }
}

function store(ctx: ModuleContext<unknown>, session: SessionInfo, el: Element): void {
  const from = Jid.tryParse(el.attrs.from) ?? Jid.of(null, ctx.host);
  const to = Jid.tryParse(el.attrs.to) ?? session.jid;
  void ctx.fire('message/offline', { stanza: el, from, to, origin: LOCAL }).then(
    // RFC 6121 §8.5.2.2: without offline storage, the sender learns that the message was not delivered.
    (taken) => {
      if (!taken) bounce(ctx, el);
    },
    (err: unknown) => {
      ctx.log.error({ err, to: el.attrs.to }, 'storing an unacknowledged message failed');
      bounce(ctx, el, StanzaError.internal('the message could not be stored'));
    },
  );
}

function bounce(ctx: ModuleContext<unknown>, el: Element, err = StanzaError.serviceUnavailable()): void {
  if (!mayBounce(el) || el.attrs.from === undefined) return;
  void ctx.send(errorReply(el, err));
}
