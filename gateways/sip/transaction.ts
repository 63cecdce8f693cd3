// Non-INVITE transactions (RFC 3261 §17.1.2 client, §17.2.2 server) with their timers: E (retransmit over UDP,
// T1 doubling to T2), F (64·T1 timeout), K (T4 to absorb response retransmissions) on the client side; J (64·T1
// to absorb request retransmissions) on the server side; zero wait on reliable transports (§17.1.2.2, §17.2.2).
// Matching: responses by top-Via branch and CSeq method (§17.1.3); requests by branch, sent-by and method
// (§17.2.3), falling back to Call-ID/CSeq/From-tag for pre-RFC 3261 peers. Overload protection: a per-source
// token bucket and a cap on live server transactions; beyond them requests get 503 with Retry-After (§21.5.4).
import type { Logger } from 'pino';
import { REASONS, SipHeaders, type SipMessage, type SipRequest, type SipResponse } from './message.js';
import { BRANCH_COOKIE, formatParams, parseCSeq, parseNameAddr, parseVia, randomToken } from './syntax.js';
import type { Flow } from './transport.js';

export interface Timers {
  readonly t1: number;
  readonly t2: number;
  readonly t4: number;
}

/** RFC 3261 §17.1.1.1 and Table 4. */
export const DEFAULT_TIMERS: Timers = { t1: 500, t2: 4000, t4: 5000 };

/** Timer F fired: no final response within 64·T1 (§17.1.2.2); the TU treats it as 408. */
export class TransactionTimeout extends Error {
  override readonly name = 'TransactionTimeout';
}

/** The transport could not send the request (§17.1.4); the TU treats it as 503. */
export class TransportFailure extends Error {
  override readonly name = 'TransportFailure';
}

export interface TransactionOptions {
  readonly timers: Timers;
  readonly log: Logger;
  /** Live server transactions beyond which new requests get 503. */
  readonly maxServerTransactions: number;
  /** Requests per second per source address, and the burst allowed above it. */
  readonly ratePerSource: { readonly perSecond: number; readonly burst: number };
  /** Seconds a peer is asked to wait in a 503's Retry-After. */
  readonly retryAfterSeconds: number;
  /** Sources exempt from the per-source rate (the registrar that relays everyone's traffic). */
  exempt?(address: string): boolean;
}

export interface Sender {
  send(m: SipMessage, dest: Flow): Promise<void>;
}

/** A request as the UA core (TU) sees it: answer it once with respond(). */
export interface ServerTransaction {
  readonly request: SipRequest;
  readonly source: Flow;
  respond(status: number, opts?: ResponseOptions): void;
  readonly answered: boolean;
}

export interface ResponseOptions {
  readonly reason?: string;
  readonly toTag?: string;
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer;
}

/** RFC 3261 §8.2.6.2: a response copies Via, From, To (tagged), Call-ID and CSeq; Record-Route for dialogs (§12.1.1). */
export function makeResponse(req: { headers: SipHeaders }, status: number, opts: ResponseOptions = {}): SipResponse {
  const h = new SipHeaders();
  for (const v of req.headers.all('Via')) h.add('Via', v);
  // A request that lacked one of these (answered 400) gets a response without it rather than an empty field.
  const copy = (name: string, value = req.headers.get(name)) => {
    if (value !== undefined) h.add(name, value);
  };
  copy('From');
  let to = req.headers.get('To');
  const na = to === undefined ? null : parseNameAddr(to);
  if (opts.toTag && status > 100 && na && !na.params.has('tag'))
    to = `${to}${formatParams(new Map([['tag', opts.toTag]]))}`;
  copy('To', to);
  copy('Call-ID');
  copy('CSeq');
  if (status >= 200 && status < 300) for (const rr of req.headers.all('Record-Route')) h.add('Record-Route', rr);
  for (const [k, v] of opts.headers ?? []) h.add(k, v);
  return {
    kind: 'response',
    status,
    reason: opts.reason ?? REASONS[status] ?? 'Unknown',
    headers: h,
    body: opts.body ?? Buffer.alloc(0),
  };
}

/** RFC 3261 §18.2.2 (and RFC 3581 §4 rport): where a response to a request from `source` goes. */
export function responseFlow(req: { headers: SipHeaders }, source: Flow): Flow {
  if (source.transport !== 'udp') return source;
  const via = parseVia(req.headers.all('Via')[0] ?? '');
  if (!via) return source;
  const rport = via.params.get('rport');
  const port = rport !== undefined ? source.port : (via.port ?? 5060);
  return { transport: 'udp', address: via.params.get('received') ?? source.address, port };
}

export const newBranch = () => `${BRANCH_COOKIE}${randomToken(10)}`;

interface ClientTx {
  onResponse(r: SipResponse): void;
  fail(e: Error): void;
}

interface ServerTx {
  readonly key: string;
  last: SipResponse | null;
  flow: Flow;
  timer?: NodeJS.Timeout;
}

export class TransactionLayer {
  private readonly clients = new Map<string, ClientTx>();
  private readonly servers = new Map<string, ServerTx>();
  private readonly buckets = new Map<string, { tokens: number; at: number }>();
  private closed = false;

  constructor(
    private readonly sender: Sender,
    private readonly opts: TransactionOptions,
    private readonly onRequest: (tx: ServerTransaction) => void,
  ) {}

  /** Runs a client transaction; resolves with the final response (1xx go to onProvisional). */
  request(req: SipRequest, dest: Flow, onProvisional?: (r: SipResponse) => void): Promise<SipResponse> {
    const via = parseVia(req.headers.all('Via')[0] ?? '');
    const cseq = parseCSeq(req.headers.get('CSeq') ?? '');
    const branch = via?.params.get('branch');
    if (!via || !cseq || !branch) return Promise.reject(new Error('request without a top Via branch or CSeq'));
    const key = `${branch}|${cseq.method}`;
    const { t1, t2, t4 } = this.opts.timers;
    const reliable = dest.transport !== 'udp';
    return new Promise<SipResponse>((resolve, reject) => {
      const timers: NodeJS.Timeout[] = [];
      let done = false;
      let proceeding = false;
      const finish = () => {
        done = true;
        for (const t of timers) clearTimeout(t);
        // Timer K (§17.1.2.2): keep matching retransmitted responses for T4 over UDP, then forget.
        const k = setTimeout(() => this.clients.delete(key), reliable ? 0 : t4);
        k.unref?.();
      };
      const tx: ClientTx = {
        onResponse: (r) => {
          if (done) return;
          if (r.status < 200) {
            proceeding = true;
            onProvisional?.(r);
            return;
          }
          finish();
          resolve(r);
        },
        fail: (e) => {
          if (done) return;
          finish();
          reject(e);
        },
      };
      this.clients.set(key, tx);
      const send = () => {
        this.sender.send(req, dest).catch((err: unknown) => tx.fail(new TransportFailure(String(err))));
      };
      send();
      if (!reliable) {
        // Timer E: T1, 2·T1, 4·T1 … capped at T2; after a provisional, every T2 (§17.1.2.2).
        let interval = t1;
        const retransmit = () => {
          if (done) return;
          send();
          interval = proceeding ? t2 : Math.min(interval * 2, t2);
          timers.push(setTimeout(retransmit, interval));
        };
        timers.push(setTimeout(retransmit, interval));
      }
      // Timer F: the transaction times out (§17.1.2.2).
      timers.push(setTimeout(() => tx.fail(new TransactionTimeout(`no response within ${64 * t1} ms`)), 64 * t1));
    });
  }

  /** Feeds every message the transport delivers. */
  receive(m: SipMessage, source: Flow): void {
    if (this.closed) return;
    if (m.kind === 'response') this.onResponse(m);
    else this.onRequestIn(m, source);
  }

  private onResponse(r: SipResponse): void {
    const via = parseVia(r.headers.all('Via')[0] ?? '');
    const cseq = parseCSeq(r.headers.get('CSeq') ?? '');
    const branch = via?.params.get('branch');
    if (!branch || !cseq) return;
    // §18.1.2: a response matching no transaction is discarded.
    this.clients.get(`${branch}|${cseq.method}`)?.onResponse(r);
  }

  private serverKey(req: SipRequest): string | null {
    const via = parseVia(req.headers.all('Via')[0] ?? '');
    if (!via) return null;
    const branch = via.params.get('branch');
    const method = req.method === 'ACK' ? 'INVITE' : req.method;
    if (branch?.startsWith(BRANCH_COOKIE)) return `${branch}|${via.host}:${via.port ?? ''}|${method}`;
    // §17.2.3 for RFC 2543 peers: the request's identifying fields.
    const from = parseNameAddr(req.headers.get('From') ?? '')?.params.get('tag') ?? '';
    return `2543|${req.headers.get('Call-ID')}|${req.headers.get('CSeq')}|${from}|${via.host}:${via.port ?? ''}`;
  }

  private onRequestIn(req: SipRequest, source: Flow): void {
    stampVia(req, source);
    const key = this.serverKey(req);
    if (!key) return;
    const existing = this.servers.get(key);
    if (existing) {
      // A retransmission (§17.2.2): resend the last response, if any.
      if (existing.last && req.method !== 'ACK') this.transmit(existing.last, existing.flow);
      return;
    }
    if (req.method === 'ACK') return; // §17.2.3: an ACK for a transaction we never had is dropped
    const flow = responseFlow(req, source);
    if (req.method === 'CANCEL') {
      // §9.2: CANCEL of a non-INVITE has no effect; 200 when it matches a transaction, else 481.
      const target = this.serverKey({ ...req, method: 'X' } as SipRequest)?.replace(/\|X$/, '');
      const matched = target !== undefined && [...this.servers.keys()].some((k) => k.startsWith(`${target}|`));
      this.transmit(makeResponse(req, matched ? 200 : 481), flow);
      return;
    }
    if (!this.admit(source) || this.servers.size >= this.opts.maxServerTransactions) {
      this.transmit(makeResponse(req, 503, { headers: [['Retry-After', String(this.opts.retryAfterSeconds)]] }), flow);
      return;
    }
    const stx: ServerTx = { key, last: null, flow };
    this.servers.set(key, stx);
    let answered = false;
    const tx: ServerTransaction = {
      request: req,
      source,
      get answered() {
        return answered;
      },
      respond: (status, o) => {
        if (answered || this.closed) return;
        const res = makeResponse(req, status, o);
        stx.last = res;
        this.transmit(res, flow);
        if (status >= 200) {
          answered = true;
          // Timer J (§17.2.2): absorb retransmissions for 64·T1 over UDP.
          stx.timer = setTimeout(
            () => this.servers.delete(key),
            source.transport === 'udp' ? 64 * this.opts.timers.t1 : 0,
          );
          stx.timer.unref?.();
        }
      },
    };
    try {
      this.onRequest(tx);
    } catch (err) {
      this.opts.log.error({ err }, 'SIP request handler failed');
      tx.respond(500);
    }
  }

  /** Token bucket per source address (the MESSAGE flood defence). */
  private admit(source: Flow): boolean {
    if (this.opts.exempt?.(source.address)) return true;
    const { perSecond, burst } = this.opts.ratePerSource;
    const now = Date.now();
    const b = this.buckets.get(source.address) ?? { tokens: burst, at: now };
    b.tokens = Math.min(burst, b.tokens + ((now - b.at) / 1000) * perSecond);
    b.at = now;
    this.buckets.set(source.address, b);
    if (this.buckets.size > 10_000) this.buckets.clear();
    if (b.tokens < 1) return false;
    b.tokens -= 1;
    return true;
  }

  /** Sends outside any transaction (stateless answers, retransmissions); failures are only logged. */
  transmit(m: SipMessage, dest: Flow): void {
    this.sender.send(m, dest).catch((err: unknown) => this.opts.log.debug({ err }, 'SIP send failed'));
  }

  close(): void {
    this.closed = true;
    for (const tx of [...this.clients.values()]) tx.fail(new TransportFailure('shutting down'));
    this.clients.clear();
    for (const s of this.servers.values()) if (s.timer) clearTimeout(s.timer);
    this.servers.clear();
  }
}

/** RFC 3261 §18.2.1 and RFC 3581 §4: record where a request really came from in its top Via. */
function stampVia(req: SipRequest, source: Flow): void {
  const top = req.headers.all('Via')[0];
  const via = top ? parseVia(top) : null;
  if (!via) return;
  const params = new Map(via.params);
  if (via.host !== source.address) params.set('received', source.address);
  if (params.has('rport') && params.get('rport') === null) params.set('rport', String(source.port));
  if (params.size === via.params.size && params.get('rport') === via.params.get('rport') && !params.has('received'))
    return;
  const vias = req.headers.all('Via');
  const stamped = `SIP/2.0/${via.transport} ${via.host}${via.port === undefined ? '' : `:${via.port}`}${formatParams(params)}`;
  req.headers.delete('Via');
  req.headers.add('Via', stamped);
  for (const v of vias.slice(1)) req.headers.add('Via', v);
}
