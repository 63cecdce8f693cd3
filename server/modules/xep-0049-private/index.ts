// XEP-0049 Private XML Storage: each account keeps arbitrary XML per namespace on the server, for itself only.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { StanzaError } from '../../errors/index.js';
import {
  fragmentBytes,
  NS_PRIVATE,
  parsePrivateGet,
  parsePrivateSet,
  privateResult,
  type StoredFragments,
} from './codec.js';

export default defineModule({
  name: 'private',
  specs: [{ xep: 49, version: '1.2', status: 'complete' }],
  options: Type.Object(
    {
      max_bytes: Type.Integer({
        minimum: 1024,
        default: 131_072,
        description: 'largest XML stored under one namespace, in bytes',
      }),
      max_namespaces: Type.Integer({ minimum: 1, default: 100, description: 'namespaces one account may store' }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    const store = ctx.store.map<StoredFragments>('private');
    // Advertised in disco#info (XEP-0030), as servers customarily do for XEP-0049, so that clients can tell
    // whether storage is there before relying on it.
    ctx.feature(NS_PRIVATE);
    const { max_bytes: maxBytes, max_namespaces: maxNamespaces } = ctx.options;
    // Read at request time: modules loaded after this one add their features too.
    const serverNamespaces = (): ReadonlySet<string> =>
      new Set([...ctx.disco.features(), ...ctx.disco.accountFeatures()]);
    const owner = (local: string | null): string => {
      if (local === null) throw StanzaError.badRequest('no account addressed');
      return local;
    };

    ctx.iq(
      'get',
      NS_PRIVATE,
      'query',
      async (ev) => {
        const { ns, request } = parsePrivateGet(ev.payload, serverNamespaces());
        return privateResult(request, await store.get(ctx.host, owner(ev.to.local), ns));
      },
      ['self'],
    );

    ctx.iq(
      'set',
      NS_PRIVATE,
      'query',
      async (ev) => {
        const user = owner(ev.to.local);
        const groups = parsePrivateSet(ev.payload, serverNamespaces());
        for (const [ns, fragments] of groups) {
          if (fragmentBytes(fragments) > maxBytes) {
            throw StanzaError.notAcceptable(`data for ${ns} is larger than ${maxBytes} bytes`);
          }
        }
        await checkNamespaceCount(user, [...groups.keys()]);
        for (const [ns, fragments] of groups) await store.set(ctx.host, user, ns, fragments);
      },
      ['self'],
    );

    /** A bound on how many namespaces an account fills; counted only when a set adds a new one. */
    const checkNamespaceCount = async (user: string, namespaces: string[]): Promise<void> => {
      const known = await Promise.all(namespaces.map((ns) => store.get(ctx.host, user, ns)));
      const added = known.filter((v) => v === null).length;
      if (added === 0) return;
      const existing = (await store.getAll(ctx.host, user)).size;
      if (existing + added > maxNamespaces) {
        throw new StanzaError('resource-constraint', `at most ${maxNamespaces} namespaces can be stored`, {
          type: 'cancel',
        });
      }
    };

    // XEP-0049 §2.3, §3: private data of another account (or addressed to the server) is forbidden, which the
    // spec prefers over service-unavailable.
    const forbidden = (): never => {
      throw StanzaError.forbidden('private data can only be stored and read by its owner');
    };
    ctx.iq('get', NS_PRIVATE, 'query', forbidden, ['bare', 'host']);
    ctx.iq('set', NS_PRIVATE, 'query', forbidden, ['bare', 'host']);
  },
});
