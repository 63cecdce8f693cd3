// XEP-0077 In-Band Registration: account creation before authentication (off by default, rate-limited per IP),
// password change and account removal after authentication.
import { Type } from '@sinclair/typebox';
import { defineModule } from '../../core/module.js';
import { StanzaError, SwitchboardError } from '../../errors/index.js';
import { errorReply, iqResult } from '../../router/stanza.js';
import { type Element, xml } from '../../xml/element.js';
import { NS } from '../../xml/ns.js';

/** Fixed-window counter per key with a bounded number of keys. */
class RateLimiter {
  private readonly hits = new Map<string, { start: number; n: number }>();
  constructor(
    private readonly max: number,
    private readonly windowMs: number,
  ) {}
  take(key: string, now = Date.now()): boolean {
    const h = this.hits.get(key);
    if (!h || now - h.start >= this.windowMs) {
      if (this.hits.size >= 10_000) this.hits.delete(this.hits.keys().next().value as string);
      this.hits.set(key, { start: now, n: 1 });
      return this.max > 0;
    }
    h.n++;
    return h.n <= this.max;
  }
}

function registrationForm(instructions: string): Element {
  return xml(
    'query',
    { xmlns: NS.REGISTER },
    xml('instructions', null, instructions),
    xml('username'),
    xml('password'),
  );
}

export default defineModule({
  name: 'register',
  specs: [{ xep: 77, version: '2.4', status: 'partial', note: 'username/password fields; no data forms; no email' }],
  options: Type.Object(
    {
      enabled: Type.Boolean({ default: false, description: 'allow account creation before authentication' }),
      per_ip_per_hour: Type.Integer({ minimum: 0, default: 5 }),
      min_password_length: Type.Integer({ minimum: 1, default: 8 }),
    },
    { additionalProperties: false },
  ),
  defaultEnabled: true,
  setup(ctx) {
    const limiter = new RateLimiter(ctx.options.per_ip_per_hour, 3600_000);
    // XEP-0077 "Determining Support": the feature is advertised in disco#info (password change and removal
    // work even when account creation is off).
    ctx.feature(NS.REGISTER);
    const checkPassword = (password: string): void => {
      if ([...password].length < ctx.options.min_password_length) {
        throw StanzaError.notAcceptable(`password must have at least ${ctx.options.min_password_length} characters`);
      }
    };

    if (ctx.options.enabled) {
      ctx.hook('stream-features', ({ session, features }) => {
        if (!session.authenticated) features.push(xml('register', { xmlns: NS.REGISTER_FEATURE }));
      });
      ctx.hook('c2s-unauthenticated-iq', async ({ stanza, ip, reply }) => {
        const query = stanza.getChild('query', NS.REGISTER);
        if (!query) return false;
        try {
          if (stanza.attrs.type === 'get') {
            reply(iqResult(stanza, registrationForm('Choose a username and password.')));
            return true;
          }
          if (stanza.attrs.type !== 'set') throw StanzaError.badRequest();
          if (query.getChild('remove')) throw StanzaError.notAuthorized('authenticate before removing an account');
          const username = query.getChildText('username') ?? '';
          const password = query.getChildText('password') ?? '';
          if (!username || !password) throw StanzaError.notAcceptable('username and password are required');
          checkPassword(password);
          // XEP-0077 §3.1: limit how many accounts one address may create.
          if (!limiter.take(ip))
            throw new StanzaError('resource-constraint', 'too many registrations from your address', { type: 'wait' });
          await ctx.accounts.create(ctx.host, username, password);
          ctx.log.info({ username, ip }, 'account registered in-band');
          reply(iqResult(stanza));
        } catch (err) {
          reply(errorReply(stanza, toStanzaError(err)));
        }
        return true;
      });
    }

    // After authentication: the registration state, password change and removal (XEP-0077 §3.2, §3.3).
    ctx.iq(
      'get',
      NS.REGISTER,
      'query',
      (ev) =>
        xml(
          'query',
          { xmlns: NS.REGISTER },
          xml('registered'),
          xml('username', null, ev.from.local ?? ''),
          xml('password'),
        ),
      ['self', 'host'],
    );
    ctx.iq(
      'set',
      NS.REGISTER,
      'query',
      async (ev) => {
        const user = ev.from.local;
        if (user === null || ev.from.domain !== ctx.host) throw StanzaError.forbidden();
        if (ev.payload.getChild('remove')) {
          // XEP-0077 §3.2: AccountService cancels the subscriptions in the roster before the data goes (the
          // 'user-deleting' event), and the server ends the account's sessions with a not-authorized stream
          // error once this result is on its way.
          await ctx.accounts.delete(ctx.host, user).catch((err: unknown) => {
            throw toStanzaError(err);
          });
          ctx.log.info({ username: user }, 'account removed in-band');
          return undefined;
        }
        const username = ev.payload.getChildText('username');
        const password = ev.payload.getChildText('password') ?? '';
        if (username !== null && username !== undefined && username !== user)
          throw StanzaError.notAllowed('you can only change your own password');
        if (!password) throw StanzaError.badRequest('password is required');
        checkPassword(password);
        await ctx.accounts.setPassword(ctx.host, user, password).catch((err: unknown) => {
          throw toStanzaError(err);
        });
        return undefined;
      },
      ['self', 'host'],
    );
  },
});

function toStanzaError(err: unknown): StanzaError {
  if (err instanceof StanzaError) return err;
  if (err instanceof SwitchboardError) {
    if (err.code === 'SB_ERR_ACCOUNT_EXISTS') return StanzaError.conflict('username is taken');
    if (err.code === 'SB_ERR_JID_INVALID') return StanzaError.jidMalformed(err.message);
    if (err.code === 'SB_ERR_ACCOUNT_NOT_FOUND') return StanzaError.itemNotFound();
  }
  throw err;
}
