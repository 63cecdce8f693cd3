// XEP-0352 Client State Indication: while a client says it is inactive, presence updates to it wait, collapsed
// to the latest per sender; messages and iqs are delivered at once, a message with content after the held
// presence; <active/> (or a stream resumption, §5.2) releases everything held, in order.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { type ClientStream, FILTER_ORDER, type OutboundFilter } from '../../session/client-stream.js';
import { type Element, xml } from '../../xml/element.js';
import { csiDecision, NS_CSI } from './codec.js';

const STATE_KEY = 'csi';

/** The outbound filter of an inactive client; it sits in the chain only while the client is inactive. */
class InactiveFilter implements OutboundFilter {
  readonly order = FILTER_ORDER.csi;
  /** Held presence by sender full JID; re-inserted on update, so iteration follows the latest updates' order. */
  private readonly held = new Map<string, Element>();

  constructor(
    private readonly session: ClientStream,
    private readonly maxHeld: number,
  ) {}

  filter(el: Element, next: (el: Element) => void): void {
    const decision = csiDecision(el);
    if (decision === 'hold') {
      const key = el.attrs.from ?? '';
      this.held.delete(key);
      this.held.set(key, el);
      if (this.held.size > this.maxHeld) this.flush();
      return;
    }
    if (decision === 'flush') this.flush();
    next(el);
  }

  /** Sends what is held, oldest latest-update first, through the rest of the chain (stream management counts it). */
  flush(): void {
    if (this.held.size === 0) return;
    const out = [...this.held.values()];
    this.held.clear();
    for (const el of out) this.session.forward(this, el);
  }
}

function activate(session: ClientStream): void {
  const filter = session.state.get(STATE_KEY) as InactiveFilter | undefined;
  if (!filter) return;
  // §5.1: everything the state change releases is on the wire before the next stanza from the client is handled
  // (nonzas are handled in order, and this runs synchronously).
  filter.flush();
  session.removeFilter(filter);
  session.state.delete(STATE_KEY);
}

export default defineModule({
  name: 'csi',
  specs: [{ xep: 352, version: '1.0.0', status: 'complete', note: 'presence is held and collapsed while inactive' }],
  options: Type.Object(
    {
      max_held_presences: Type.Integer({
        minimum: 1,
        default: 1000,
        description: 'senders whose presence an inactive client can wait for; beyond, everything held is sent',
      }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    // §4.1: the stream feature, offered after authentication.
    ctx.hook('stream-features', ({ session, features }) => {
      if (session.authenticated) features.push(xml('csi', { xmlns: NS_CSI }));
    });

    // §4.2: <inactive/> and <active/>; no reply. A stream starts active (§5).
    ctx.hook('c2s-nonza', ({ session, element }) => {
      if (element.attrs.xmlns !== NS_CSI) return false;
      if (element.name === 'inactive') {
        if (!session.state.has(STATE_KEY)) {
          const filter = new InactiveFilter(session, ctx.options.max_held_presences);
          session.state.set(STATE_KEY, filter);
          session.addFilter(filter);
        }
        return true;
      }
      if (element.name === 'active') {
        activate(session);
        return true;
      }
      return false;
    });

    // §5.2: a resumed stream is active, whatever its state before.
    ctx.hook('c2s-resumed', ({ session }) => activate(session));
  },
});
