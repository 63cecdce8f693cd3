// What the XMPP side answers to a message the gateway routes for a legacy contact (UpstreamSink.messageOutcome): the
// user's server either takes it (delivers or stores it, and says nothing: XMPP has no delivery receipt) or bounces it
// with an error stanza (RFC 6120 §8.3.1) that comes back to the gateway's domain, to the contact JID, with the
// message's id. Drivers whose network answers every message (a SIP MESSAGE's final response, RFC 7247 §7.1) wait
// for that outcome before answering.
import { randomBytes } from 'node:crypto';
import { StanzaError, type StanzaErrorCondition, type StanzaErrorType } from '../../server/errors/index.js';
import { Jid } from '../../server/jid/index.js';
import type { Element } from '../../server/xml/element.js';
import { NS } from '../../server/xml/ns.js';
import type { MessageRefusal } from './driver.js';

/** RFC 6120 §8.3.3: the defined conditions. */
const CONDITIONS: ReadonlySet<string> = new Set<StanzaErrorCondition>([
  'bad-request',
  'conflict',
  'feature-not-implemented',
  'forbidden',
  'gone',
  'internal-server-error',
  'item-not-found',
  'jid-malformed',
  'not-acceptable',
  'not-allowed',
  'not-authorized',
  'policy-violation',
  'recipient-unavailable',
  'redirect',
  'registration-required',
  'remote-server-not-found',
  'remote-server-timeout',
  'resource-constraint',
  'service-unavailable',
  'subscription-required',
  'undefined-condition',
  'unexpected-request',
]);
const TYPES: ReadonlySet<string> = new Set<StanzaErrorType>(['auth', 'cancel', 'continue', 'modify', 'wait']);

/**
 * The stanza error an error stanza carries (RFC 6120 §8.3.2): its defined condition (undefined-condition when it has
 * none we know), type, `<text/>`, 'by', and for <gone/> and <redirect/> the address in the element's character data
 * (§8.3.3.5, §8.3.3.14). Null when the stanza has no `<error/>` child.
 */
export function readStanzaError(el: Element): StanzaError | null {
  const error = el.getChild('error');
  if (!error) return null;
  let condition: StanzaErrorCondition = 'undefined-condition';
  let data = '';
  for (const c of error.children) {
    if (typeof c === 'string' || c.attrs.xmlns !== NS.STANZAS_ERR || !CONDITIONS.has(c.name)) continue;
    condition = c.name as StanzaErrorCondition;
    data = c.getText().trim();
    break;
  }
  const type = error.attrs.type;
  const text = error.getChildText('text', NS.STANZAS_ERR);
  return new StanzaError(condition, text ?? undefined, {
    ...(type !== undefined && TYPES.has(type) ? { type: type as StanzaErrorType } : {}),
    ...(error.attrs.by ? { by: error.attrs.by } : {}),
    ...(data !== '' ? { uri: data } : {}),
  });
}

/** A stanza id for a message whose answer is awaited: nobody but its recipient can know it (bounces match by it). */
export const outcomeId = (): string => `gw-${randomBytes(12).toString('base64url')}`;

export interface OutcomeOptions {
  /** After the user's server took the message, how long to wait for an error from the recipient's client (ms). */
  readonly waitMs?: number;
  /** At most this long for the server to take or refuse it (ms); then it counts as taken. */
  readonly deadlineMs?: number;
}

/** The default bound on the wait for the user's server (well under a SIP peer's 32 s Timer F, RFC 3261 §17.1.2.2). */
const DEFAULT_DEADLINE_MS = 5000;

interface Waiter {
  /** The contact JID the message came from (bare), to which the bounce is addressed. */
  readonly contact: string;
  /** The addressee's bare JID: the bounce comes from it, one of its resources, or its server. */
  readonly user: Jid;
  settle(r: MessageRefusal | null): void;
}

export class Bounces {
  private readonly waiting = new Map<string, Waiter>();

  /**
   * Routes `el` (a message from a contact JID to a local user, with an id from outcomeId()) through `dispatch`, which
   * settles once the user's server has handled it, and resolves with the refusal that came back, or null.
   */
  send(
    el: Element,
    dispatch: (el: Element) => Promise<void>,
    opts: OutcomeOptions = {},
  ): Promise<MessageRefusal | null> {
    const id = el.attrs.id;
    const contact = Jid.tryParse(el.attrs.from);
    const user = Jid.tryParse(el.attrs.to);
    if (!id || !contact || !user || this.waiting.has(id)) {
      return dispatch(el).then(
        () => null,
        () => null,
      );
    }
    return new Promise((resolve) => {
      let timer: NodeJS.Timeout | undefined;
      const arm = (ms: number) => {
        clearTimeout(timer);
        timer = setTimeout(() => w.settle(null), ms);
        timer.unref?.();
      };
      const w: Waiter = {
        contact: contact.bareString,
        user: user.bare(),
        settle: (r) => {
          if (this.waiting.get(id) !== w) return;
          this.waiting.delete(id);
          clearTimeout(timer);
          resolve(r);
        },
      };
      this.waiting.set(id, w);
      arm(opts.deadlineMs ?? DEFAULT_DEADLINE_MS);
      const taken = () =>
        // A bounce sent during the dispatch is routed on its own (through the pre-* hooks of the user's host, a
        // promise chain): one turn of the event loop lets it arrive before the message counts as taken.
        setImmediate(() => {
          const wait = opts.waitMs ?? 0;
          if (wait > 0) arm(wait);
          else w.settle(null);
        });
      dispatch(el).then(taken, taken);
    });
  }

  /**
   * An error stanza routed to the gateway: settles the wait it answers and returns true; false when it answers none
   * (then it is handled as any other stanza). Only an answer from the addressee — its bare JID, one of its resources
   * or its server — to the contact that sent the message counts.
   */
  take(el: Element): boolean {
    const id = el.attrs.id;
    const w = id ? this.waiting.get(id) : undefined;
    if (!w) return false;
    const to = Jid.tryParse(el.attrs.to);
    const from = Jid.tryParse(el.attrs.from);
    if (!to || !from || to.bareString !== w.contact) return false;
    const fromUser = from.bareEquals(w.user) || (from.local === null && from.domain === w.user.domain);
    if (!fromUser) return false;
    w.settle({
      error: readStanzaError(el) ?? new StanzaError('undefined-condition'),
      fromResource: from.local !== null && from.resource !== null,
    });
    return true;
  }

  /** Messages still waiting for their outcome (for tests and metrics). */
  get size(): number {
    return this.waiting.size;
  }
}
