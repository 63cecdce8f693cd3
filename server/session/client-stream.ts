// What stream-level extensions see of a client stream: the outbound filter chain (DESIGN §4: session.send →
// filters → serializer → socket), nonza output, the inbound 'handled' signal and the transport hand-over that
// XEP-0198 stream management needs, and XEP-0352 client state indication uses.
import type { Logger } from 'pino';
import type { SessionInfo } from '../core/hooks.js';
import type { StreamError } from '../errors/index.js';
import type { Element } from '../xml/element.js';

/**
 * One stage of the outbound path. A filter passes an element on with `next` at once, or holds it and releases it
 * later through `ClientStream.forward` (which always uses the current chain, so a filter added meanwhile is not
 * skipped), or drops it.
 */
export interface OutboundFilter {
  /** Place in the chain: lower runs first; the highest sits next to the wire. */
  readonly order: number;
  filter(el: Element, next: (el: Element) => void): void;
}

/** Well-known filter positions: CSI holds stanzas back before stream management counts what goes on the wire. */
export const FILTER_ORDER = { csi: 100, streamManagement: 1000 } as const;

export interface ClientStream extends SessionInfo {
  log: Logger;
  readonly isBound: boolean;
  /** The stream has ended for good (a hibernating session is not closed). */
  readonly isClosed: boolean;
  /** Bound, without a transport, waiting for XEP-0198 resumption. */
  readonly hibernating: boolean;
  addFilter(f: OutboundFilter): void;
  removeFilter(f: OutboundFilter): void;
  /** Passes an element held by `from` on to the filters after it. */
  forward(from: OutboundFilter, el: Element): void;
  /** Writes an element straight to the transport, past every filter: nonzas, and XEP-0198 retransmission. */
  sendDirect(el: Element): void;
  /** Called after each inbound stanza has been handled (XEP-0198 §4: what 'h' acknowledges). */
  onStanzaHandled: (() => void) | null;
  /**
   * Asked when the transport ends without a clean close (XEP-0198 §7), or the server ends the stream with an
   * error the client did not cause; returning true keeps the session bound and hibernating.
   */
  onTransportLost: ((reason: string) => boolean) | null;
  /** Resolves when every stanza received so far has been handled. */
  whenIdle(): Promise<void>;
  /**
   * XEP-0198 §5: takes over the transport of `from` (an authenticated, unbound stream that asked to resume this
   * session). An old transport still open is closed with a conflict stream error. `greet` runs once the transport
   * is ours and before any further input from it is processed (it sends <resumed/> and retransmits).
   */
  adoptTransport(from: ClientStream, greet: () => void): void;
  close(error?: StreamError): void;
}

const NO_FILTERS: OutboundFilter[] = [];

/**
 * The filters of one stream, with the stage functions precomputed so that a send is one call per filter. A stream
 * without filters (most: they come with stream management and client state indication) holds no arrays.
 */
export class OutboundChain {
  private filters: OutboundFilter[] = NO_FILTERS;
  private stages: ((el: Element) => void)[] | null = null;

  constructor(private readonly emit: (el: Element) => void) {}

  add(f: OutboundFilter): void {
    if (this.filters.includes(f)) return;
    this.filters = [...this.filters, f].sort((a, b) => a.order - b.order);
    this.rebuild();
  }

  remove(f: OutboundFilter): void {
    if (!this.filters.includes(f)) return;
    this.filters = this.filters.filter((x) => x !== f);
    this.rebuild();
  }

  send(el: Element): void {
    const stages = this.stages;
    if (stages === null) this.emit(el);
    else stages[0]!(el);
  }

  forward(from: OutboundFilter, el: Element): void {
    const i = this.filters.indexOf(from);
    if (i >= 0) this.stages![i + 1]!(el);
  }

  private rebuild(): void {
    const n = this.filters.length;
    if (n === 0) {
      this.filters = NO_FILTERS;
      this.stages = null;
      return;
    }
    const stages: ((el: Element) => void)[] = new Array(n + 1);
    stages[n] = this.emit;
    for (let i = n - 1; i >= 0; i--) {
      const f = this.filters[i]!;
      const next = stages[i + 1]!;
      stages[i] = (el) => f.filter(el, next);
    }
    this.stages = stages;
  }
}
