// XEP-0012 Last Activity: the server's uptime, and for an account the time since its last resource went away.
import { Type } from '@sinclair/typebox';
import type { IqEvent } from '../../core/hooks.js';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import type { Jid } from '../../jid/index.js';
import { errorReply } from '../../router/stanza.js';
import type {} from '../rfc6121-presence/types.js';
import type {} from '../rfc6121-roster/types.js';
import { lastResult, NS_LAST, secondsSince } from './codec.js';

export default defineModule({
  name: 'last',
  specs: [
    {
      xep: 12,
      version: '2.0',
      status: 'complete',
      note: 'idle time of full JIDs is answered by clients (§4); the server only guards who may ask',
    },
  ],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  // The logout time and the last unavailable status are recorded by the presence module, which answers probes
  // of offline contacts from the same record (RFC 6121 §4.3.2).
  dependencies: ['presence'],
  setup(ctx) {
    const started = Date.now();
    const records = ctx.need('lastPresence');

    ctx.feature(NS_LAST);
    ctx.accountFeature(NS_LAST);

    // XEP-0012 §5: to the server, the seconds since it was last (re)started, without character data.
    ctx.iq('get', NS_LAST, 'query', () => lastResult(secondsSince(started, Date.now())), ['host']);

    // XEP-0012 §3, §8: only those allowed to see the user's presence (subscription from or both) may learn
    // anything; without a roster service nobody but the account itself is.
    const mayLearn = async (user: string, requester: Jid): Promise<boolean> => {
      const roster = ctx.maybe('roster');
      if (roster === undefined) return false;
      return roster.sharesPresenceWith(ctx.host, user, requester.bareString);
    };

    const answerFor = async (account: Jid) => {
      // XEP-0012 §3: with a connected or available resource the answer is 0 seconds, with no text.
      if (ctx.sessions.resources(account).length > 0) return lastResult(0);
      const rec = await records.get(localOf(account));
      if (rec === null) throw StanzaError.itemNotFound('no last activity is recorded for this account');
      return lastResult(secondsSince(rec.at, Date.now()), rec.status);
    };

    // The account itself may always ask.
    ctx.iq('get', NS_LAST, 'query', (ev: IqEvent) => answerFor(ev.to.bare()), ['self']);

    ctx.iq(
      'get',
      NS_LAST,
      'query',
      async (ev: IqEvent) => {
        const user = localOf(ev.to);
        // RFC 6121 §8.5.1: an iq to an account that does not exist is answered with service-unavailable.
        if (!(await ctx.accounts.exists(ctx.host, user))) throw StanzaError.serviceUnavailable();
        if (!(await mayLearn(user, ev.from))) throw StanzaError.forbidden();
        return answerFor(ev.to.bare());
      },
      ['bare'],
    );

    // XEP-0012 §4, §8: a query to a full JID reaches the resource only if the requester may see the user's
    // presence; otherwise the server answers forbidden, whether or not that resource is connected (no leak).
    ctx.hook(
      'iq/full',
      async (ev) => {
        if (ev.stanza.attrs.type !== 'get' || !ev.stanza.getChild('query', NS_LAST)) return false;
        if (ev.to.local === null || ev.from.bareEquals(ev.to) || (await mayLearn(ev.to.local, ev.from))) return false;
        ctx.send(errorReply(ev.stanza, StanzaError.forbidden()));
        return true;
      },
      10,
    );
  },
});

function localOf(jid: Jid): string {
  if (jid.local === null) throw StanzaError.badRequest('no account addressed');
  return jid.local;
}
