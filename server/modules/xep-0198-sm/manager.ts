// XEP-0198 state of one client session: the inbound count, the outbound queue (an outbound filter next to the
// wire), ack requests, and hibernation while a resumable session has lost its transport.
import { StreamError } from '../../errors/index.js';
import { type ClientStream, FILTER_ORDER, type OutboundFilter } from '../../session/client-stream.js';
import type { Element } from '../../xml/element.js';
import { ackAnswer, ackRequest, addH, handledCountTooHigh, isStanza } from './codec.js';
import { UnackedQueue } from './queue.js';

export interface ManagerOptions {
  /** Unacknowledged stanzas kept at most; beyond, the session ends and they are disposed of. */
  maxUnacked: number;
  /** An <r/> goes out once this many stanzas are unacknowledged (XEP-0198 §4 leaves the policy open). */
  requestAfter: number;
  /** Outstanding stanzas are asked about at least this often. */
  requestIntervalMs: number;
}

const STATE_KEY = 'sm';

export function peekManager(session: { state: Map<string, unknown> }): StreamManager | undefined {
  return session.state.get(STATE_KEY) as StreamManager | undefined;
}

/**
 * The periodic ack requests of every manager with the same interval, on one shared timer: a session costs no
 * timer of its own. A manager's first request thus comes within one interval of its first unacknowledged
 * stanza rather than exactly one interval after it started, which XEP-0198 leaves open.
 */
class Ticker {
  private static readonly byInterval = new Map<number, Ticker>();
  private readonly managers = new Set<StreamManager>();
  private readonly timer: NodeJS.Timeout;

  private constructor(private readonly ms: number) {
    this.timer = setInterval(() => {
      for (const m of this.managers) m.periodic();
    }, ms);
    this.timer.unref();
  }

  static add(ms: number, m: StreamManager): void {
    let t = Ticker.byInterval.get(ms);
    if (!t) {
      t = new Ticker(ms);
      Ticker.byInterval.set(ms, t);
    }
    t.managers.add(m);
  }

  static remove(ms: number, m: StreamManager): void {
    const t = Ticker.byInterval.get(ms);
    if (!t?.managers.delete(m) || t.managers.size > 0) return;
    clearInterval(t.timer);
    Ticker.byInterval.delete(t.ms);
  }
}

export class StreamManager implements OutboundFilter {
  readonly order = FILTER_ORDER.streamManagement;
  readonly queue = new UnackedQueue<Element>();
  /** Stanzas handled from the client, modulo 2^32 (XEP-0198 §4 'h'). */
  inbound = 0;
  /** The SM-ID when the session may be resumed (XEP-0198 §5). */
  resumeId: string | null = null;
  /** Seconds a lost session waits for resumption. */
  resumeSeconds = 0;
  /** Set once the session has ended: what is still queued belongs to `onUnacked`. */
  finished = false;
  private requestPending = false;
  private requestScheduled = false;
  private hibernationTimer: NodeJS.Timeout | null = null;

  constructor(
    readonly session: ClientStream,
    private readonly opts: ManagerOptions,
    /** Takes stanzas that can no longer reach the client (XEP-0198 §4: offline storage, bounce or drop). */
    private readonly onUnacked: (els: Element[]) => void,
  ) {
    session.state.set(STATE_KEY, this);
    Ticker.add(opts.requestIntervalMs, this);
  }

  /**
   * XEP-0198 §3: starts counting; both counters start at zero once <enabled/> is sent, which the caller does
   * right after this, in the same turn, so no stanza can come between.
   */
  start(resume: { id: string; seconds: number } | null): void {
    this.session.addFilter(this);
    this.session.onStanzaHandled = () => {
      this.inbound = addH(this.inbound);
    };
    if (resume) {
      this.resumeId = resume.id;
      this.resumeSeconds = resume.seconds;
      this.session.onTransportLost = () => this.hibernate();
    }
  }

  filter(el: Element, next: (el: Element) => void): void {
    if (!isStanza(el)) {
      next(el);
      return;
    }
    if (this.finished) {
      // The session is over (it can only be reached through a stale reference): do as with its queue.
      this.onUnacked([el]);
      return;
    }
    this.queue.push(el);
    next(el);
    if (this.queue.length > this.opts.maxUnacked) {
      this.session.close(new StreamError('resource-constraint', 'too many unacknowledged stanzas'));
      return;
    }
    this.scheduleRequest();
  }

  /** XEP-0198 §4: <r/> is answered with the count of stanzas handled. */
  answerRequest(): void {
    this.session.sendDirect(ackAnswer(this.inbound));
  }

  /** XEP-0198 §4: <a h=…/>; an 'h' beyond what was sent ends the stream (§6). */
  acknowledge(h: number): void {
    if (this.queue.ack(h) === null) {
      this.session.close(handledCountTooHigh(h, this.queue.sent));
      return;
    }
    this.requestPending = false;
    this.scheduleRequest();
  }

  /** Asks the client for an ack now, unless one is outstanding or nothing is unacknowledged. */
  requestAck(): void {
    if (this.requestPending || this.queue.length === 0 || this.session.hibernating || this.session.isClosed) return;
    this.requestPending = true;
    this.session.sendDirect(ackRequest());
  }

  /** XEP-0198 §5: the session was resumed; the wait for it ends. */
  resumed(): void {
    if (this.hibernationTimer) clearTimeout(this.hibernationTimer);
    this.hibernationTimer = null;
    this.requestPending = false;
  }

  /** The session ended: stops everything and hands back what the client never acknowledged. */
  finish(): Element[] {
    this.finished = true;
    Ticker.remove(this.opts.requestIntervalMs, this);
    if (this.hibernationTimer) clearTimeout(this.hibernationTimer);
    this.hibernationTimer = null;
    this.session.onTransportLost = null;
    this.session.onStanzaHandled = null;
    return this.queue.takeAll();
  }

  /** XEP-0198 §5, §7: the transport is gone; the session waits `resumeSeconds` for a <resume/>, then ends. */
  private hibernate(): boolean {
    if (this.finished || this.resumeId === null) return false;
    this.requestPending = false;
    if (this.hibernationTimer) clearTimeout(this.hibernationTimer);
    this.hibernationTimer = setTimeout(() => {
      this.hibernationTimer = null;
      this.session.log.info('stream management: resumption timed out');
      this.session.close();
    }, this.resumeSeconds * 1000);
    this.hibernationTimer.unref();
    this.session.log.info({ seconds: this.resumeSeconds }, 'stream management: hibernating');
    return true;
  }

  /** One <r/> after a burst rather than one per stanza: deferred to the end of the current turn. */
  private scheduleRequest(): void {
    if (this.requestScheduled || this.requestPending || this.queue.length < this.opts.requestAfter) return;
    this.requestScheduled = true;
    setImmediate(() => {
      this.requestScheduled = false;
      this.requestAck();
    });
  }

  /** Outstanding stanzas are asked about again at every interval, answered or not. */
  /** Called by the shared ticker every `requestIntervalMs`. */
  periodic(): void {
    if (this.queue.length === 0) return;
    this.requestPending = false;
    this.requestAck();
  }
}
