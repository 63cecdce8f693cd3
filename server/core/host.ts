// A locally served domain: its event bus, disco view, services and the dispatcher that turns stanzas into events.
import type { Logger } from 'pino';
import { StanzaError } from '../errors/index.js';
import type { Jid } from '../jid/index.js';
import { errorReply, iqPayload, iqResult, mayBounce } from '../router/stanza.js';
import type { Element } from '../xml/element.js';
import {
  HandlerTimeout,
  HookBus,
  type HookMap,
  type HookName,
  type IqEvent,
  type Origin,
  type StanzaEvent,
} from './hooks.js';
import type { DiscoIdentity, IqHandler, IqTarget, Services } from './module.js';

export type RouteFn = (stanza: Element, origin: Origin) => void;

export class LocalHost {
  readonly bus: HookBus;
  readonly features = new Set<string>();
  readonly accountFeatures = new Set<string>();
  readonly identities: DiscoIdentity[] = [];
  readonly items = new Map<string, { jid: string; name?: string }>();
  readonly services = new Map<string, unknown>();

  constructor(
    readonly name: string,
    private readonly log: Logger,
    private readonly route: RouteFn,
  ) {
    this.bus = new HookBus((event, owner, err) => {
      if (!(err instanceof StanzaError)) this.log.error({ err, event, owner }, 'hook handler failed');
    });
  }

  provide<K extends keyof Services>(name: K, impl: Services[K]): void {
    if (this.services.has(name as string)) throw new Error(`service ${String(name)} already provided on ${this.name}`);
    this.services.set(name as string, impl);
  }

  need<K extends keyof Services>(name: K): Services[K] {
    const s = this.services.get(name as string);
    if (s === undefined) throw new Error(`service ${String(name)} is not provided on ${this.name}`);
    return s as Services[K];
  }

  /** Registers an iq handler that answers with a result or a stanza error (DESIGN §3). */
  iq(
    type: 'get' | 'set',
    ns: string,
    name: string,
    fn: IqHandler,
    targets: readonly IqTarget[],
    owner: string,
  ): (() => void)[] {
    const wrapped = async (ev: IqEvent): Promise<boolean> => {
      let reply: Element;
      try {
        const payload = await fn(ev);
        reply = iqResult(ev.stanza, payload ?? null);
      } catch (err) {
        reply = errorReply(ev.stanza, this.toStanzaError(err, owner));
      }
      this.route(reply, ev.origin);
      return true;
    };
    return targets.map((t) => this.bus.on(`iq-${type}/${t}/${ns}:${name}`, wrapped, 0, owner));
  }

  /** Unexpected errors become internal-server-error with an id that is also logged (DESIGN §3). */
  toStanzaError(err: unknown, owner: string): StanzaError {
    if (err instanceof StanzaError) return err;
    const id = Math.random().toString(36).slice(2, 10);
    if (err instanceof HandlerTimeout) {
      this.log.warn({ errorId: id, owner, err: err.message }, 'handler timed out');
      return new StanzaError('remote-server-timeout', `handler timed out (error id ${id})`, { type: 'wait' });
    }
    this.log.error({ errorId: id, owner, err }, 'handler failed');
    return StanzaError.internal(`error id ${id}`);
  }

  /** Turns a routed stanza into Prosody-style events (DESIGN §4); unhandled stanzas get RFC 6120 §8 errors. */
  async dispatch(stanza: Element, from: Jid, to: Jid, origin: Origin): Promise<void> {
    const kind = stanza.name as 'message' | 'presence' | 'iq';
    const target: IqTarget =
      to.local === null ? 'host' : to.resource !== null ? 'full' : from.bareEquals(to) ? 'self' : 'bare';
    try {
      if (kind === 'iq') {
        if (await this.dispatchIq(stanza, from, to, origin, target)) return;
      } else {
        const ev: StanzaEvent = { stanza, from, to, origin };
        if (await this.bus.fire(`${kind}/${target}`, ev)) return;
        if (target === 'self' && (await this.bus.fire(`${kind}/bare`, ev))) return;
      }
      this.unhandled(stanza, kind);
    } catch (err) {
      if (mayBounce(stanza)) this.route(errorReply(stanza, this.toStanzaError(err, 'dispatch')), origin);
    }
  }

  private async dispatchIq(stanza: Element, from: Jid, to: Jid, origin: Origin, target: IqTarget): Promise<boolean> {
    const type = stanza.attrs.type;
    if (type !== 'get' && type !== 'set' && type !== 'result' && type !== 'error') {
      throw StanzaError.badRequest('iq type must be get, set, result or error');
    }
    // The generic `iq/<target>` event comes first, as in Prosody (whose mod_iq fires the per-payload events from
    // iq/bare): policy such as blocking (XEP-0191 §3.3) must see an iq before a handler answers it on the
    // account's behalf. Generic handlers return false for get/set iqs they leave to the per-payload events.
    const ev: StanzaEvent = { stanza, from, to, origin };
    if (await this.bus.fire(`iq/${target}`, ev)) return true;
    if (target === 'self' && (await this.bus.fire('iq/bare', ev))) return true;
    if ((type === 'get' || type === 'set') && target !== 'full') {
      const payload = iqPayload(stanza);
      const key = `${payload.attrs.xmlns ?? ''}:${payload.name}`;
      const iqEv: IqEvent = { stanza, from, to, origin, payload };
      if (await this.bus.fire(`iq-${type}/${target}/${key}`, iqEv)) return true;
      if (target === 'self' && (await this.bus.fire(`iq-${type}/bare/${key}`, iqEv))) return true;
    }
    return false;
  }

  /** RFC 6120 §8.3.1 / RFC 6121 §8.5: nobody took the stanza. */
  private unhandled(stanza: Element, kind: string): void {
    if (kind === 'presence' || !mayBounce(stanza)) return;
    if (kind === 'message' && stanza.attrs.type === 'headline') return;
    this.route(errorReply(stanza, StanzaError.serviceUnavailable()), { kind: 'local', jid: null, send: () => {} });
  }

  fire<K extends HookName>(event: K, data: HookMap[K]): Promise<boolean> {
    return this.bus.fire(event, data);
  }
}
