// One route table keyed by domain (DESIGN §1, §4): local hosts, components, gateways and s2s behind one lookup.
import type { Element } from '../xml/element.js';

export interface LocalRoute {
  readonly kind: 'local';
  readonly host: string;
}

/** A domain served by something that takes whole stanzas: an XEP-0114 component, an in-process gateway. */
export interface StanzaRoute {
  readonly kind: 'component' | 'gateway';
  readonly domain: string;
  deliver(el: Element): void;
}

export type Route = LocalRoute | StanzaRoute;

export class RouteTable {
  private readonly routes = new Map<string, Route>();

  add(domain: string, route: Route): void {
    if (this.routes.has(domain)) throw new Error(`domain ${domain} already routed`);
    this.routes.set(domain, route);
  }

  remove(domain: string, route?: Route): void {
    if (route && this.routes.get(domain) !== route) return;
    this.routes.delete(domain);
  }

  lookup(domain: string): Route | undefined {
    return this.routes.get(domain);
  }

  isLocal(domain: string): boolean {
    return this.routes.get(domain)?.kind === 'local';
  }

  domains(): string[] {
    return [...this.routes.keys()];
  }
}
