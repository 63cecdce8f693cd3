// XEP-0030 Service Discovery: the server's identities and features, and the account's (XEP-0030 §3.1).
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import { xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

export default defineModule({
  name: 'disco',
  specs: [{ xep: 30, version: '2.5rc3', status: 'complete' }],
  options: Type.Object({ name: Type.String({ default: 'Switchboard' }) }, { additionalProperties: false }),
  defaultEnabled: true,
  core: true,
  setup(ctx) {
    ctx.identity('server', 'im', ctx.options.name);
    ctx.feature(NS.DISCO_INFO);
    ctx.feature(NS.DISCO_ITEMS);
    // XEP-0030 §3.1: an account answers both queries on its bare JID (the server answers for it, below).
    ctx.accountFeature(NS.DISCO_INFO);
    ctx.accountFeature(NS.DISCO_ITEMS);

    ctx.iq('get', NS.DISCO_INFO, 'query', (ev) => {
      // XEP-0030 §3.1: nodes we do not know are item-not-found.
      if (ev.payload.attrs.node) throw StanzaError.itemNotFound();
      const ids = ctx.disco
        .identities()
        .map((i) => xml('identity', { category: i.category, type: i.type, name: i.name }));
      const features = [...new Set(ctx.disco.features())].sort().map((f) => xml('feature', { var: f }));
      return xml('query', { xmlns: NS.DISCO_INFO }, ...ids, ...features);
    });
    ctx.iq('get', NS.DISCO_ITEMS, 'query', (ev) => {
      if (ev.payload.attrs.node) throw StanzaError.itemNotFound();
      return xml(
        'query',
        { xmlns: NS.DISCO_ITEMS },
        ...ctx.disco.items().map((i) => xml('item', { jid: i.jid, name: i.name })),
      );
    });

    // The server answers for an account's bare JID (RFC 6121 §8.5.2.1.3); no such account → service-unavailable.
    const accountExists = async (local: string | null): Promise<void> => {
      if (local === null || !(await ctx.accounts.exists(ctx.host, local))) throw StanzaError.serviceUnavailable();
    };
    ctx.iq(
      'get',
      NS.DISCO_INFO,
      'query',
      async (ev) => {
        await accountExists(ev.to.local);
        if (ev.payload.attrs.node) throw StanzaError.itemNotFound();
        const features = [...new Set(ctx.disco.accountFeatures())].sort().map((f) => xml('feature', { var: f }));
        return xml(
          'query',
          { xmlns: NS.DISCO_INFO },
          xml('identity', { category: 'account', type: 'registered' }),
          ...features,
        );
      },
      ['bare', 'self'],
    );
    ctx.iq(
      'get',
      NS.DISCO_ITEMS,
      'query',
      async (ev) => {
        await accountExists(ev.to.local);
        return xml('query', { xmlns: NS.DISCO_ITEMS });
      },
      ['bare', 'self'],
    );
  },
});
