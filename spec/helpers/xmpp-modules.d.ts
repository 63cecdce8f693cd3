// Type declarations for the parts of xmpp.js 0.14 (untyped JavaScript) that the specs use.
declare module '@xmpp/xml' {
  import type { Element } from 'ltx';
  /** Streaming parser: 'start' for the stream header, 'element' per top-level child, 'end' for the footer. */
  export class Parser {
    on(event: 'start' | 'element' | 'end', fn: (el: Element) => void): this;
    on(event: 'error', fn: (err: Error) => void): this;
    write(data: string): void;
    end(data?: string): void;
  }
}

declare module '@xmpp/client' {
  import type { EventEmitter } from 'node:events';
  import type { Element } from 'ltx';

  export interface XmppJid {
    local: string;
    domain: string;
    resource: string;
    toString(): string;
    bare(): XmppJid;
  }

  export interface ClientOptions {
    service: string;
    domain?: string;
    resource?: string;
    username?: string;
    password?: string;
    credentials?: (
      authenticate: (creds: { username: string; password: string }, mechanism: string) => Promise<void>,
      mechanisms: string[],
    ) => Promise<void>;
    timeout?: number;
  }

  export interface IqCaller {
    request(el: Element, timeout?: number): Promise<Element>;
    get(el: Element, to?: string, timeout?: number): Promise<Element>;
    set(el: Element, to?: string, timeout?: number): Promise<Element>;
  }

  export interface XmppClient extends EventEmitter {
    jid: XmppJid | null;
    status: string;
    socket: unknown;
    iqCaller: IqCaller;
    reconnect: { stop(): void; start(): void; reconnect(): Promise<void> };
    /** @xmpp/stream-management (XEP-0198): emits 'resumed' after a successful <resume/>. */
    streamManagement: EventEmitter & { enabled: boolean; id: string; inbound: number };
    start(): Promise<XmppJid>;
    stop(): Promise<void>;
    send(el: Element): Promise<void>;
    disconnect(): Promise<void>;
  }

  export function client(options: ClientOptions): XmppClient;
  export function xml(name: string, attrs?: Record<string, string> | null, ...children: (Element | string)[]): Element;
}

declare module '@xmpp/tls/lib/Socket.js' {
  import type { ConnectionOptions } from 'node:tls';

  const Socket: { prototype: { connect(options: ConnectionOptions): void } };
  export default Socket;
}
