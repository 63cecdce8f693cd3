// Matches iq results to requests the server itself sent (ctx.request), with a timeout per request.
import { StanzaError } from '../errors/index.js';
import type { Element } from '../xml/element.js';

interface Pending {
  resolve(el: Element): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class IqTracker {
  private readonly pending = new Map<string, Pending>();
  private seq = 0;
  private readonly prefix = `sb${Math.random().toString(36).slice(2, 8)}-`;

  request(iq: Element, timeoutMs: number, send: (el: Element) => void): Promise<Element> {
    const id = `${this.prefix}${++this.seq}`;
    iq.attrs.id = id;
    return new Promise<Element>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(StanzaError.remoteServerTimeout('no answer to iq'));
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, timer });
      send(iq);
    });
  }

  /** Claims an incoming iq result/error addressed to the server; returns true if it answered a request. */
  claim(el: Element): boolean {
    const id = el.attrs.id;
    if (!id?.startsWith(this.prefix)) return false;
    const p = this.pending.get(id);
    if (!p) return false;
    this.pending.delete(id);
    clearTimeout(p.timer);
    if (el.attrs.type === 'result') p.resolve(el);
    else p.reject(errorFromStanza(el));
    return true;
  }

  cancelAll(): void {
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(StanzaError.serviceUnavailable('server shutting down'));
    }
    this.pending.clear();
  }
}

function errorFromStanza(el: Element): StanzaError {
  const err = el.getChild('error');
  const cond = err?.children.find((c) => typeof c !== 'string' && c.name !== 'text');
  const name = typeof cond === 'object' ? cond.name : 'undefined-condition';
  return new StanzaError(name as ConstructorParameters<typeof StanzaError>[0]);
}

declare module './module.js' {
  interface Services {
    'iq-tracker': IqTracker;
  }
}
