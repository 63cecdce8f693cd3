// The SIP gateway driver (DESIGN §6, docs/gateways.md "SIP"). Two deployments:
// - mode `domain`: the gateway is the SIP side of the XMPP domains (RFC 7247 §5 same-domain model). SIP peers send to
//   `sip:alice@<xmpp domain>` at the gateway's listener; the XMPP user registers with the gateway (no fields needed).
// - mode `register`: each user registers (XEP-0100) a SIP account of an existing registrar; the gateway REGISTERs it
//   with digest authentication and keeps it registered while the user is online.
// Contacts are SIP addresses on the gateway domain (`sip:bob@pbx.example` ⇄ `bob\40pbx.example@sip.example.com`).
import { readFileSync } from 'node:fs';
import type { Jid } from '../../server/jid/index.js';
import { AddressMapper } from '../core/address.js';
import {
  type DriverContext,
  defineDriver,
  type GatewayDriver,
  LegacyError,
  RegistrationError,
  type RegistrationField,
} from '../core/driver.js';
import { jidToSipUri, parseContactInput, sipAddressCodec } from './address.js';
import { DigestClient } from './digest.js';
import { resolveUri, type SendOptions, SipEndpoint } from './endpoint.js';
import { type SipOptions, SipOptionsSchema } from './options.js';
import { Publisher } from './publication.js';
import { Registration } from './register.js';
import { SipRuntime } from './runtime.js';
import { SipSession } from './session.js';
import { randomToken } from './syntax.js';
import type { ListenSpec } from './transport.js';
import { aorOf, parseSipUri, type SipUri } from './uri.js';

export { type SipOptions, SipOptionsSchema } from './options.js';

/** What a registration stores (JSON round-trip safe). */
export interface SipCredentials {
  /** Mode `register`: the address-of-record, e.g. `sip:alice@pbx.example`. */
  readonly aor?: string;
  /** Digest user name when it differs from the address's user part. */
  readonly authUser?: string;
  readonly password?: string;
  /** Display name in From headers (RFC 3261 §20.20). */
  readonly display?: string;
}

const DISPLAY: RegistrationField = {
  var: 'nick',
  type: 'text-single',
  label: 'Display name',
  desc: 'Shown to SIP peers; leave empty for none',
};

function uriOption(value: string | undefined, name: string): SipUri | undefined {
  if (value === undefined) return undefined;
  const u = parseSipUri(value);
  // DESIGN §1: a bad option stops the start, naming it.
  if (!u) throw new Error(`gateways: options.${name} is not a SIP URI: ${value}`);
  return u;
}

function listenSpecs(o: SipOptions): ListenSpec[] {
  return o.sip_listen.map((l) => {
    if (l.transport !== 'tls') return { transport: l.transport, address: l.address ?? '127.0.0.1', port: l.port };
    if (!l.tls_cert_file || !l.tls_key_file)
      throw new Error('gateways: a TLS sip_listen entry needs tls_cert_file and tls_key_file');
    return {
      transport: 'tls',
      address: l.address ?? '127.0.0.1',
      port: l.port,
      tls: { cert: readFileSync(l.tls_cert_file), key: readFileSync(l.tls_key_file) },
    };
  });
}

/** Rejects when `signal` aborts first (a login in progress must stop promptly). */
function abortable<T>(p: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(asLegacy(signal.reason));
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(asLegacy(signal.reason));
    signal.addEventListener('abort', onAbort, { once: true });
    p.then(resolve, reject).finally(() => signal.removeEventListener('abort', onAbort));
  });
}

const asLegacy = (reason: unknown): LegacyError =>
  reason instanceof LegacyError ? reason : new LegacyError(reason instanceof Error ? reason.message : 'login aborted');

export function createSipDriver(ctx: DriverContext<SipOptions>): GatewayDriver<SipCredentials> {
  const o = ctx.options;
  const log = ctx.log;
  const domainMode = o.mode === 'domain';
  const proxy = uriOption(o.outbound_proxy, 'outbound_proxy') ?? uriOption(o.registrar, 'registrar');
  const ca = o.tls_ca_file ? readFileSync(o.tls_ca_file) : undefined;
  let rtRef: SipRuntime | null = null;
  const endpoint = new SipEndpoint({
    listen: listenSpecs(o),
    clientAddress: o.client_address,
    timers: { t1: o.timer_t1_ms, t2: o.timer_t2_ms, t4: o.timer_t4_ms },
    transactions: {
      maxServerTransactions: o.max_transactions,
      ratePerSource: { perSecond: o.rate_per_source, burst: o.rate_burst },
      retryAfterSeconds: o.retry_after_seconds,
      // Mode `register`: the registrar relays every peer's requests; it is not one peer to rate-limit.
      exempt: (address) => rtRef?.trusted?.has(address) ?? false,
    },
    userAgent: o.user_agent,
    tlsClient: { ...(ca ? { ca } : {}), rejectUnauthorized: o.tls_verify },
    log,
  });
  const send: SendOptions = proxy ? { via: proxy } : {};
  const mapper = new AddressMapper(sipAddressCodec(), ctx.domain);
  const registered = ctx.registered;
  const rt = new SipRuntime(
    ctx.domain,
    o,
    endpoint,
    send,
    log,
    {
      gatewayDomain: ctx.domain,
      aliases: o.aliases,
      ...(domainMode && o.xmpp_domain !== undefined ? { xmppDomain: o.xmpp_domain } : {}),
      contactJid: (id) => mapper.tryToJid(id),
      contactId: (jid) => mapper.fromJid(jid),
    },
    registered ? (user) => registered(user) : undefined,
  );
  rtRef = rt;
  const ready = endpoint.start().then(async () => {
    if (o.trusted_sources) rt.trusted = new Set(o.trusted_sources);
    else if (!domainMode && proxy) rt.trusted = new Set([(await resolveUri(proxy)).address]);
    const where = ['udp', 'tcp', 'tls'].map((t) => endpoint.transport.local(t as 'udp'));
    log.info({ listen: where.filter(Boolean) }, 'SIP gateway ready');
  });
  ready.catch((err: unknown) => log.error({ err }, 'the SIP gateway could not start its listeners'));
  /** Contacts each user watches (lowercased ids), kept across logins like the IRC driver's watch list. */
  const watched = new Map<string, Set<string>>();
  /** SIP watchers each user approved (mode `domain`), kept across logins. */
  const approvals = new Map<string, Set<string>>();

  const registration: RegistrationField[] = domainMode
    ? [DISPLAY]
    : [
        {
          var: 'username',
          type: 'text-single',
          label: 'SIP address',
          required: true,
          desc: 'e.g. sip:alice@pbx.example',
        },
        { var: 'password', type: 'text-private', label: 'Password', required: true },
        {
          var: 'auth_username',
          type: 'text-single',
          label: 'Authentication user',
          desc: 'Only if the registrar expects another user name than the address (RFC 3261 §22.4)',
        },
        DISPLAY,
      ];

  return {
    kind: 'sip',
    name: 'SIP gateway',
    instructions: domainMode
      ? `SIP peers reach you at sip:<you>@<your XMPP domain> through ${ctx.domain}. A display name is optional.`
      : 'Enter the SIP address and password of your SIP account; the gateway registers it while you are online.',
    registration,
    address: sipAddressCodec(),

    async validateRegistration(form: Record<string, string>): Promise<SipCredentials> {
      const display = form.nick?.trim();
      if (display !== undefined && /[\r\n\0]/.test(display))
        throw new RegistrationError('the display name is one line');
      const shown = display ? { display } : {};
      if (domainMode) return shown;
      const u = parseContactInput(form.username ?? '');
      if (!u) throw new RegistrationError(`"${form.username ?? ''}" is not a SIP address like sip:alice@pbx.example`);
      const password = form.password ?? '';
      if (password === '' || /[\r\n\0]/.test(password)) throw new RegistrationError('enter the SIP account password');
      const authUser = form.auth_username?.trim();
      if (authUser !== undefined && /[\s"\\]/.test(authUser))
        throw new RegistrationError('invalid authentication user');
      return { aor: aorOf(u), password, ...(authUser ? { authUser } : {}), ...shown };
    },

    async login(user: Jid, cred: SipCredentials, up, signal) {
      await abortable(ready, signal);
      const bare = user.bare();
      const key = bare.toString();
      const mine = watched.get(key) ?? new Set<string>();
      watched.set(key, mine);
      const approved = approvals.get(key) ?? new Set<string>();
      approvals.set(key, approved);
      const ulog = log.child({ user: key });
      if (domainMode) {
        const session = new SipSession(
          rt,
          {
            user: key,
            identity: jidToSipUri(bare),
            ...(cred.display ? { display: cred.display } : {}),
            contact: endpoint.contact(bare.local ?? 'user'),
            send,
            watched: mine,
            approved,
            log: ulog,
          },
          up,
        );
        rt.attach(session);
        session.resume();
        return session;
      }
      const aor = cred.aor ? parseSipUri(cred.aor) : null;
      if (!aor?.user || !cred.password) throw new LegacyError('incomplete SIP registration', 'not-acceptable', true);
      const digest = new DigestClient(cred.authUser ?? aor.user, cred.password);
      // Without an outbound proxy, requests go to the registrar of the address's domain (RFC 3261 §10.2).
      const userSend: SendOptions = { ...(proxy ? { via: proxy } : {}), digest };
      const token = `u${randomToken(6)}`;
      const contact = endpoint.contact(token);
      let session: SipSession | null = null;
      const reg = new Registration({
        endpoint,
        send: userSend,
        aor: aorOf(aor),
        contact,
        expires: o.register_expires,
        log: ulog,
        onLost: (detail) => session?.lost(detail),
      });
      const publisher = o.publish
        ? new Publisher({ endpoint, send: userSend, aor: aorOf(aor), expires: o.publish_expires, log: ulog })
        : undefined;
      session = new SipSession(
        rt,
        {
          user: key,
          identity: aorOf(aor),
          ...(cred.display ? { display: cred.display } : {}),
          contact,
          token,
          send: userSend,
          registration: reg,
          ...(publisher ? { publisher } : {}),
          watched: mine,
          approved,
          log: ulog,
        },
        up,
      );
      rt.attach(session);
      try {
        await abortable(reg.register(), signal);
      } catch (err) {
        rt.detach(session);
        reg.abandon();
        throw err instanceof LegacyError ? err : asLegacy(err);
      }
      session.resume();
      return session;
    },

    async close() {
      await ready.catch(() => {});
      await rt.close();
    },
  };
}

export const sipDriver = defineDriver({
  name: 'sip',
  options: SipOptionsSchema,
  create: (ctx: DriverContext<SipOptions>) => createSipDriver(ctx),
});
