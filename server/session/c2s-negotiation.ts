// Client stream negotiation (RFC 6120 §4–§7): header checks, features, STARTTLS, SASL, resource binding.
import { randomBytes } from 'node:crypto';
import type { TLSSocket, TlsOptions } from 'node:tls';
import type { Logger } from 'pino';
import type { AccountService } from '../core/accounts.js';
import type { LocalHost } from '../core/host.js';
import { SaslFailure, StanzaError, StreamError } from '../errors/index.js';
import { Jid, JidError, prepareDomainpart, prepareLocalpart, prepareResourcepart } from '../jid/index.js';
import type { Router } from '../router/router.js';
import {
  type AuthThrottle,
  availableMechanisms,
  createMechanism,
  releaseChannelBinding,
  type SaslStep,
  tlsChannelBinding,
} from '../stream/sasl/index.js';
import { type Element, xml } from '../xml/element.js';
import type { FramerLimits } from '../xml/framer.js';
import { NS } from '../xml/ns.js';
import type { C2SSession } from './c2s.js';
import type { SessionRegistry } from './registry.js';

export interface C2SDeps {
  log: Logger;
  router: Router;
  sessions: SessionRegistry;
  accounts: AccountService;
  limits: FramerLimits;
  defaultHost: string;
  host(name: string): LocalHost | undefined;
  /** TLS settings for STARTTLS (secure context chosen by SNI). Null when TLS is not configured. */
  tlsOptions(): TlsOptions;
  tlsAvailable: boolean;
  requireTls: boolean;
  mechanisms: string[];
  throttleIp: AuthThrottle;
  throttleUser: AuthThrottle;
  maxAuthFailures: number;
  maxResources: number;
  negotiationTimeoutMs: number;
  /** Handles a non-stanza element after authentication (stream management, CSI); resolves true when claimed. */
  nonza(session: C2SSession, el: Element): Promise<boolean>;
  onOpen(session: C2SSession): void;
  onClose(session: C2SSession, error?: string): void;
  countIn(kind: string): void;
  countOut(kind: string): void;
  countStreamError(condition: string): void;
  countAuthFailure(): void;
}

/** RFC 6120 §4.7 and §4.9.1.2: checks a stream header; returns the stream error to send, if any. */
export function validateHeader(s: C2SSession, name: string, attrs: Record<string, string>): StreamError | null {
  const colon = name.indexOf(':');
  const prefix = colon >= 0 ? name.slice(0, colon) : '';
  const local = colon >= 0 ? name.slice(colon + 1) : name;
  const streamNs = prefix ? attrs[`xmlns:${prefix}`] : attrs.xmlns;
  if (local !== 'stream' || streamNs !== NS.STREAM) return new StreamError('invalid-namespace', 'not an XMPP stream');
  if (prefix && attrs.xmlns !== NS.CLIENT)
    return new StreamError('invalid-namespace', `content namespace must be ${NS.CLIENT}`);
  let host: string | null = null;
  try {
    host = attrs.to ? prepareDomainpart(attrs.to) : null;
  } catch {
    host = null;
  }
  const served = host ? s.deps.host(host) : undefined;
  if (!host || !served) {
    if (!s.streamHost) s.streamHost = null;
    return new StreamError(
      'host-unknown',
      attrs.to ? `this server does not serve ${attrs.to}` : "the stream header has no 'to'",
    );
  }
  // A restart (after STARTTLS or SASL) must stay on the same host: credentials and certificates belong to it.
  if (s.streamHost !== null && s.streamHost !== host)
    return new StreamError('host-unknown', "a stream restart must keep the same 'to'");
  // The host's own name: one string shared by all its sessions rather than one per stream header.
  s.streamHost = served.name;
  const major = Number.parseInt((attrs.version ?? '0').split('.')[0] ?? '0', 10);
  if (!(major >= 1)) return new StreamError('unsupported-version', 'XMPP 1.0 streams only');
  return null;
}

/** RFC 6120 §4.3.2: stream features for the current negotiation state. */
export async function sendFeatures(s: C2SSession): Promise<void> {
  const features: Element[] = [];
  const host = s.deps.host(s.host);
  if (!s.authUser) {
    if (!s.secure && s.deps.tlsAvailable) {
      features.push(xml('starttls', { xmlns: NS.TLS }, s.deps.requireTls ? xml('required') : null));
    }
    if (s.secure || !s.deps.requireTls) {
      const mechs = offeredMechanisms(s);
      if (mechs.length > 0)
        features.push(xml('mechanisms', { xmlns: NS.SASL }, ...mechs.map((m) => xml('mechanism', null, m))));
      // XEP-0440 §3: say which channel-binding types the -PLUS mechanisms accept, so clients pick one we
      // support instead of failing and retrying with the 'y' flag, which RFC 5802 §6 makes us refuse.
      const types = channelBindingTypes(s);
      if (types.length > 0 && mechs.some((m) => m.endsWith('-PLUS'))) {
        features.push(
          xml('sasl-channel-binding', { xmlns: NS.SASL_CB }, ...types.map((type) => xml('channel-binding', { type }))),
        );
      }
    }
  } else {
    features.push(xml('bind', { xmlns: NS.BIND }));
    // RFC 6121 §9 (legacy session establishment): advertised as optional for old clients.
    features.push(xml('session', { xmlns: NS.SESSION }, xml('optional')));
  }
  if (host && (s.secure || !s.deps.requireTls)) {
    await host.fire('stream-features', {
      session: { host: s.host, authenticated: s.authUser !== null, bound: false },
      features,
    });
  }
  s.send(xml('stream:features', null, ...features));
}

function channelBindingTypes(s: C2SSession): string[] {
  return s.secure && s.socket instanceof Object && 'getCertificate' in s.socket
    ? tlsChannelBinding(s.socket as TLSSocket).types()
    : [];
}

function offeredMechanisms(s: C2SSession): string[] {
  return availableMechanisms({
    secure: s.secure,
    channelBindings: channelBindingTypes(s),
    allowPlain: true,
    enabled: s.deps.mechanisms,
  });
}

/** Elements before binding: STARTTLS, SASL, bind, legacy session and pre-auth registration. */
export function handleNegotiation(s: C2SSession, el: Element): Promise<void> | undefined {
  const ns = el.attrs.xmlns;
  if (ns === NS.TLS && el.name === 'starttls') return startTls(s);
  if (ns === NS.SASL) return handleSasl(s, el);
  if (el.name === 'iq' && (ns === undefined || ns === NS.CLIENT)) {
    if (s.authUser) return handleBind(s, el);
    return unauthenticatedIq(s, el);
  }
  // Between authentication and binding, extensions may take their elements: XEP-0198 §5 <resume/> belongs here.
  if (s.authUser && ns !== undefined && ns !== NS.CLIENT) return extensionBeforeBind(s, el);
  s.close(new StreamError('not-authorized', 'authenticate and bind a resource first'));
  return undefined;
}

async function extensionBeforeBind(s: C2SSession, el: Element): Promise<void> {
  if (await s.deps.nonza(s, el)) return;
  s.close(new StreamError('not-authorized', 'bind a resource first'));
}

async function startTls(s: C2SSession): Promise<void> {
  if (s.secure || !s.deps.tlsAvailable) {
    s.send(xml('failure', { xmlns: NS.TLS }));
    s.close();
    return;
  }
  s.send(xml('proceed', { xmlns: NS.TLS }));
  s.startTls();
}

async function unauthenticatedIq(s: C2SSession, el: Element): Promise<void> {
  if (s.secure || !s.deps.requireTls) {
    const host = s.deps.host(s.host);
    const claimed = host
      ? await host.fire('c2s-unauthenticated-iq', { stanza: el, ip: s.ip, host: s.host, reply: (r) => s.send(r) })
      : false;
    if (claimed) return;
  }
  s.close(new StreamError('not-authorized', 'authenticate first'));
}

async function handleSasl(s: C2SSession, el: Element): Promise<void> {
  if (s.authUser) {
    s.close(new StreamError('policy-violation', 'already authenticated'));
    return;
  }
  if (!s.secure && s.deps.requireTls) {
    // RFC 6120 §5.3.1: TLS is mandatory here, so SASL before STARTTLS is refused.
    saslFail(s, new SaslFailure('encryption-required', 'use STARTTLS first'), el.attrs.mechanism ?? '');
    return;
  }
  try {
    let step: SaslStep;
    if (el.name === 'auth') {
      if (s.sasl) throw new SaslFailure('malformed-request', 'an exchange is already in progress');
      step = await startMechanism(s, el);
    } else if (el.name === 'response') {
      if (!s.sasl) throw new SaslFailure('malformed-request', 'no exchange in progress');
      step = await s.sasl.mech.step(decode(el.getText()) ?? Buffer.alloc(0));
    } else if (el.name === 'abort') {
      throw new SaslFailure('aborted');
    } else {
      throw new SaslFailure('malformed-request', `unexpected <${el.name}/>`);
    }
    await saslStep(s, step);
  } catch (err) {
    if (!(err instanceof SaslFailure)) throw err;
    saslFail(s, err, s.sasl?.name ?? el.attrs.mechanism ?? '');
  }
}

async function startMechanism(s: C2SSession, el: Element): Promise<SaslStep> {
  const name = el.attrs.mechanism ?? '';
  if (!offeredMechanisms(s).includes(name)) throw new SaslFailure('invalid-mechanism', `${name} is not offered`);
  if (!s.deps.throttleIp.check(s.ip))
    throw new SaslFailure('temporary-auth-failure', 'too many failed attempts; try later');
  const offered = offeredMechanisms(s);
  const mech = createMechanism(name, {
    secure: s.secure,
    offeredPlus: offered.some((m) => m.endsWith('-PLUS')),
    channelBinding: s.secure && 'getCertificate' in s.socket ? tlsChannelBinding(s.socket as TLSSocket) : null,
    lookupScram: async (username, hash) => {
      const user = prepareOrNull(username);
      s.state.set('sasl-user', user);
      if (user === null) return null;
      if (!s.deps.throttleUser.check(`${user}@${s.host}`))
        throw new SaslFailure('temporary-auth-failure', 'too many failed attempts; try later');
      return s.deps.accounts.scram(s.host, user, hash);
    },
    acceptAuthzid: (authzid, authcid) => authzid === authcid || authzid === `${prepareOrNull(authcid)}@${s.host}`,
  });
  if (!mech) throw new SaslFailure('invalid-mechanism');
  s.sasl = { mech, name };
  const text = el.getText();
  // RFC 6120 §6.4.2: an empty element means no initial response; '=' means an empty one.
  return mech.start(text === '' ? null : decode(text));
}

async function saslStep(s: C2SSession, step: SaslStep): Promise<void> {
  if (step.kind === 'challenge') {
    s.send(xml('challenge', { xmlns: NS.SASL }, step.data.length ? step.data.toString('base64') : '='));
    return;
  }
  const user = prepareOrNull(step.username);
  if (user === null) throw new SaslFailure('not-authorized');
  const name = s.sasl?.name ?? '';
  s.sasl = null;
  s.state.delete('sasl-user');
  // Nothing needs the channel binding data any more: no second authentication on this stream.
  releaseChannelBinding(s.socket);
  s.authUser = user;
  s.deps.throttleIp.succeed(s.ip);
  s.deps.throttleUser.succeed(`${user}@${s.host}`);
  const host = s.deps.host(s.host);
  await host?.fire('authentication-success', { host: s.host, username: user, ip: s.ip, mechanism: name });
  s.restartStream();
  s.send(xml('success', { xmlns: NS.SASL }, step.data ? step.data.toString('base64') : null));
}

function saslFail(s: C2SSession, err: SaslFailure, mechanism: string): void {
  const user = s.state.get('sasl-user') as string | null | undefined;
  s.sasl = null;
  s.state.delete('sasl-user');
  s.saslFailures++;
  s.deps.countAuthFailure();
  if (err.condition === 'not-authorized') {
    s.deps.throttleIp.fail(s.ip);
    if (user) s.deps.throttleUser.fail(`${user}@${s.host}`);
  }
  s.log.info({ mechanism, condition: err.condition, user }, 'authentication failed');
  const host = s.deps.host(s.host);
  void host?.fire('authentication-failure', {
    host: s.host,
    username: user ?? null,
    ip: s.ip,
    mechanism,
    condition: err.condition,
  });
  s.send(err.toElement());
  // RFC 6120 §6.4.5: the server may close the stream after a configurable number of retries.
  if (s.saslFailures >= s.deps.maxAuthFailures)
    s.close(new StreamError('policy-violation', 'too many authentication failures'));
}

function decode(text: string): Buffer | null {
  if (text === '=' || text === '') return Buffer.alloc(0);
  const clean = text.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 !== 0) throw new SaslFailure('incorrect-encoding');
  return Buffer.from(clean, 'base64');
}

function prepareOrNull(username: string): string | null {
  try {
    return prepareLocalpart(username);
  } catch (err) {
    if (err instanceof JidError) return null;
    throw err;
  }
}

/** RFC 6120 §7: resource binding, client-chosen or server-generated. */
async function handleBind(s: C2SSession, el: Element): Promise<void> {
  const bind = el.getChild('bind', NS.BIND);
  if (el.attrs.type !== 'set' || !bind) {
    if (el.attrs.type === 'get' || el.attrs.type === 'set')
      s.replyError(el, StanzaError.notAuthorized('bind a resource first'));
    else s.close(new StreamError('not-authorized', 'bind a resource first'));
    return;
  }
  let resource = bind.getChildText('resource')?.trim() ?? '';
  if (resource) {
    try {
      resource = prepareResourcepart(resource);
    } catch (err) {
      if (!(err instanceof JidError)) throw err;
      s.replyError(el, StanzaError.badRequest(`invalid resource: ${err.message}`));
      return;
    }
  } else {
    resource = `sb-${randomBytes(6).toString('base64url')}`;
  }
  const username = s.authUser ?? '';
  const jid = Jid.of(username, s.host, resource);
  const existing = s.deps.sessions.resources(jid.bare());
  if (existing.length >= s.deps.maxResources && !existing.some((o) => o.resource === resource)) {
    s.replyError(el, new StanzaError('resource-constraint', 'too many resources bound'));
    return;
  }
  s.send(
    xml('iq', { type: 'result', id: el.attrs.id }, xml('bind', { xmlns: NS.BIND }, xml('jid', null, jid.toString()))),
  );
  s.bound(jid);
}

/** Registers a bound session; RFC 6120 §7.7.2.2: a conflicting bind replaces the older session. */
export function bindResource(s: C2SSession): void {
  const old = s.deps.sessions.add(s);
  if (old && old !== s) old.close(new StreamError('conflict', 'replaced by a new session'));
  const host = s.deps.host(s.host);
  void host
    ?.fire('resource-bind', { session: s })
    .catch((err: unknown) => s.log.error({ err }, 'resource-bind failed'));
}
