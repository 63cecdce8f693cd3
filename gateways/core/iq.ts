// The gateway's iq interface: service discovery (XEP-0030, XEP-0100 §4.1.1 step 1), in-band registration
// (XEP-0077, XEP-0100 §4.1–§4.3), address translation (jabber:iq:gateway, XEP-0100 §6.3) and ping (XEP-0199).
import { StanzaError } from '../../server/errors/index.js';
import type { Jid } from '../../server/jid/index.js';
import { iqPayload, iqResult } from '../../server/router/stanza.js';
import { type Element, xml } from '../../server/xml/element.js';
import { NS } from '../../server/xml/ns.js';
import { LegacyError, RegistrationError } from './driver.js';
import type { Gateway } from './gateway.js';
import {
  checkRequired,
  mergeWithStored,
  parseSubmission,
  type Registration,
  registrationQuery,
} from './registration.js';
import { roomDiscoInfo } from './rooms.js';
import { typedPresence } from './stanzas.js';

export const NS_GATEWAY = 'jabber:iq:gateway';

/** What a handler produced: the result payload, and work to do once the result is on its way. */
interface Answer {
  payload?: Element;
  after?: () => Promise<void> | void;
}

export async function handleIq(gw: Gateway, iq: Element, from: Jid, to: Jid): Promise<void> {
  const type = iq.attrs.type;
  if (type === 'result') return;
  if (type !== 'get' && type !== 'set') throw StanzaError.badRequest('iq type must be get, set, result or error');
  const payload = iqPayload(iq);
  const key = `${type} ${payload.attrs.xmlns ?? ''} ${payload.name}`;
  // Contact JIDs answer nothing themselves (RFC 6120 §8.3.3.19 service-unavailable), except rooms (XEP-0045 §6.4).
  const room =
    to.local !== null && key === `get ${NS.DISCO_INFO} query`
      ? roomDiscoInfo(gw.mapper, gw.driver.address, to, payload)
      : null;
  const answer = to.local === null ? await gatewayIq(gw, key, payload, from) : room ? { payload: room } : null;
  if (!answer) throw StanzaError.serviceUnavailable();
  gw.deps.route(iqResult(iq, answer.payload ?? null));
  await answer.after?.();
}

async function gatewayIq(gw: Gateway, key: string, payload: Element, from: Jid): Promise<Answer | null> {
  switch (key) {
    case `get ${NS.DISCO_INFO} query`:
      return { payload: discoInfo(gw, payload) };
    case `get ${NS.DISCO_ITEMS} query`:
      if (payload.attrs.node) throw StanzaError.itemNotFound();
      return { payload: xml('query', { xmlns: NS.DISCO_ITEMS }) };
    case `get ${NS.PING} ping`:
      return {};
    case `get ${NS.REGISTER} query`:
      gw.requireAccess(from);
      return { payload: registrationQuery(gw.driver, gw.domain, await gw.registration(from)) };
    case `set ${NS.REGISTER} query`:
      gw.requireAccess(from);
      return register(gw, payload, from);
    case `get ${NS_GATEWAY} query`:
      gw.requireAccess(from);
      return { payload: gatewayPrompt(gw) };
    case `set ${NS_GATEWAY} query`:
      gw.requireAccess(from);
      return { payload: translate(gw, payload) };
    default:
      return null;
  }
}

/** XEP-0030 §3.1: identity `gateway/<kind>` (XEP-0100 §4.1.1 step 2) and the features a client looks for. */
function discoInfo(gw: Gateway, payload: Element): Element {
  if (payload.attrs.node) throw StanzaError.itemNotFound();
  const features = [NS.DISCO_INFO, NS.DISCO_ITEMS, NS_GATEWAY, NS.PING, NS.REGISTER].sort();
  return xml(
    'query',
    { xmlns: NS.DISCO_INFO },
    xml('identity', { category: 'gateway', type: gw.driver.kind, name: gw.deps.name }),
    ...features.map((f) => xml('feature', { var: f })),
  );
}

/** XEP-0100 §6.3 get: the description and prompt label for adding a contact. */
function gatewayPrompt(gw: Gateway): Element {
  const { description, prompt } = gw.driver.address;
  return xml('query', { xmlns: NS_GATEWAY }, xml('desc', null, description), xml('prompt', null, prompt));
}

/** XEP-0100 §6.3 set: the legacy address the user typed (in `<prompt/>`) → the contact's JID. */
function translate(gw: Gateway, payload: Element): Element {
  const input = payload.getChildText('prompt');
  if (input === null || input.trim() === '') throw StanzaError.badRequest('the legacy address goes in <prompt/>');
  const jid = gw.mapper.translate(input);
  if (!jid) throw StanzaError.notAcceptable(`not a valid ${gw.driver.address.prompt}: ${input}`);
  // COMPAT(pre-1.0 XEP-0100 clients): some read the answer from <prompt/>, as the protocol once returned it.
  return xml('query', { xmlns: NS_GATEWAY }, xml('jid', null, jid.toString()), xml('prompt', null, jid.toString()));
}

/** XEP-0077 §3.1 (register), XEP-0100 §4.2 (edit) and §4.3 (`<remove/>`). */
async function register(gw: Gateway, payload: Element, from: Jid): Promise<Answer> {
  const fields = gw.driver.registration;
  const sub = parseSubmission(payload, fields);
  if (sub.kind === 'cancel') return {};
  const user = from.bare();
  const stored = await gw.registration(user);
  if (sub.kind === 'remove') {
    if (!stored) throw new StanzaError('registration-required', `not registered with ${gw.domain}`);
    await gw.unregister(user);
    // XEP-0100 §4.3.1: the gateway cancels both subscriptions and goes offline for the user.
    return {
      after: () => {
        for (const type of ['unsubscribe', 'unsubscribed']) {
          gw.deps.route(typedPresence(type, gw.domain, user.toString()));
        }
      },
    };
  }
  const values = mergeWithStored(sub.values, fields, stored);
  checkRequired(values, fields);
  const cred = await validate(gw, values);
  const reg: Registration = { form: values, cred, at: new Date().toISOString() };
  await gw.deps.store.set(gw.domain, user.toString(), reg);
  gw.deps.log.info({ user: user.toString(), edit: stored !== null }, 'registered with the gateway');
  return {
    after: async () => {
      // XEP-0100 §4.1.1: after a new registration the gateway asks to be in the user's roster.
      if (!stored) gw.deps.route(typedPresence('subscribe', gw.domain, user.toString()));
      // XEP-0100 §4.2.1: new credentials take effect by logging in again.
      else await gw.link(user)?.restart();
    },
  };
}

/** The driver's verdict on a form; its rejections become not-acceptable with its message (XEP-0077 §3.1). */
async function validate(gw: Gateway, values: Record<string, string>): Promise<unknown> {
  try {
    return await gw.driver.validateRegistration(values, AbortSignal.timeout(gw.deps.loginTimeoutMs));
  } catch (err) {
    if (err instanceof StanzaError) throw err;
    if (err instanceof RegistrationError) throw StanzaError.notAcceptable(err.message);
    if (err instanceof LegacyError) throw new StanzaError(err.condition, err.message);
    if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError')) {
      throw StanzaError.remoteServerTimeout('the legacy network did not answer in time');
    }
    throw err;
  }
}
