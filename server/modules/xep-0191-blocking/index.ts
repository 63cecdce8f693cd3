// XEP-0191 Blocking Command: the user's blocklist (§3.2–§3.5), kept per account, and its enforcement (§3.3).
import { randomBytes } from 'node:crypto';
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { Jid } from '../../jid/index.js';
import { type Element, xml } from '../../xml/element.js';
import {
  blockElement,
  blocklistElement,
  blockMatches,
  NS_BLOCKING,
  parseBlock,
  parseUnblock,
  unblockElement,
} from './codec.js';
import { BlockLists } from './lists.js';
import { enforceBlocking } from './policy.js';
import { presenceOnBlock, presenceOnUnblock } from './presence.js';
import './types.js';

/** Session state key marking a resource that retrieved the blocklist and so receives pushes (§3.3). */
const INTERESTED = 'blocking';

export default defineModule({
  name: 'blocking',
  specs: [{ xep: 191, version: '1.3', status: 'complete' }],
  options: Type.Object({}, { additionalProperties: false }),
  defaultEnabled: true,
  setup(ctx) {
    const lists = new BlockLists(ctx.store.keyval<string[]>('blocklist'), ctx.host);
    const { sendUnchecked } = enforceBlocking(ctx, lists);
    ctx.feature(NS_BLOCKING);
    ctx.provide('blocking', {
      isBlocked: async (user, jid) => blockMatches(await lists.get(user), jid),
    });

    // §3.3–§3.5: every resource that retrieved the blocklist is told about each change, like a roster push.
    const push = (user: string, payload: () => Element): void => {
      for (const s of ctx.sessions.resources(Jid.of(user, ctx.host))) {
        if (s.state.get(INTERESTED) !== true) continue;
        s.send(
          xml(
            'iq',
            { type: 'set', id: `block-${randomBytes(6).toString('base64url')}`, to: s.jid.toString() },
            payload(),
          ),
        );
      }
    };

    // §3.2: the iqs carry no 'to', so they arrive addressed to the user's own bare JID.
    ctx.iq(
      'get',
      NS_BLOCKING,
      'blocklist',
      async (ev) => {
        const list = await lists.get(ev.from.local ?? '');
        ctx.sessions.get(ev.from)?.state.set(INTERESTED, true);
        return blocklistElement(list);
      },
      ['self'],
    );

    ctx.iq(
      'set',
      NS_BLOCKING,
      'block',
      async (ev) => {
        const user = ev.from.local ?? '';
        const jids = parseBlock(ev.payload);
        const added = await lists.block(user, jids);
        await presenceOnBlock(ctx, user, added, sendUnchecked);
        push(user, () => blockElement(jids));
      },
      ['self'],
    );

    ctx.iq(
      'set',
      NS_BLOCKING,
      'unblock',
      async (ev) => {
        const user = ev.from.local ?? '';
        const jids = parseUnblock(ev.payload);
        const removed = await lists.unblock(user, jids);
        await presenceOnUnblock(ctx, user, removed, await lists.get(user));
        push(user, () => unblockElement(jids));
      },
      ['self'],
    );

    ctx.hook('user-deleted', ({ host, username }) => {
      if (host === ctx.host) lists.forget(username);
    });

    // Every stanza to or from the user is checked against the list, so load it with the session rather than on
    // the first message: under load, the lazy load of a thousand users' lists at once queued on storage past the
    // hook timeout and their first messages were lost (docs/benchmarks.md). Not awaited: binding does not wait.
    ctx.hook('resource-bind', ({ session }) => {
      lists
        .get(session.username)
        .catch((err: unknown) => ctx.log.warn({ err, user: session.username }, 'blocklist preload failed'));
    });
  },
});
