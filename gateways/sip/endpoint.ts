// The SIP user agent core the gateway runs (RFC 3261 §8): builds requests (Via with rport per RFC 3581, Max-Forwards,
// tags, Call-ID, CSeq), resolves where they go, runs them as client transactions with digest retries (§22.2,
// §22.3), and turns inbound requests into server transactions after the UAS checks of §8.2 (416, 420, 483 …).
// Requests too large for UDP go over TCP (§18.1.1). Resolution is RFC 3263-lite: maddr/transport parameters, the
// default ports and an address lookup; no NAPTR/SRV (use an outbound proxy for that).
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import type { DigestClient } from './digest.js';
import { UDP_MESSAGE_LIMIT } from './im.js';
import { REASONS, SipHeaders, type SipRequest, type SipResponse, serialize } from './message.js';
import { formatNameAddr, formatParams, randomToken } from './syntax.js';
import {
  makeResponse,
  newBranch,
  responseFlow,
  type ServerTransaction,
  type Timers,
  TransactionLayer,
  type TransactionOptions,
  TransportFailure,
} from './transaction.js';
import { type Endpoint, type Flow, type ListenSpec, SipTransport, type TransportName } from './transport.js';
import { defaultPort, parseSipUri, type SipUri } from './uri.js';

/** What a request is made of; the endpoint adds Via, Max-Forwards, CSeq, Content-Length. */
export interface RequestSpec {
  readonly method: string;
  readonly uri: string;
  readonly from: { readonly uri: string; readonly tag: string; readonly display?: string };
  readonly to: { readonly uri: string; readonly tag?: string };
  readonly callId: string;
  /** Called once per attempt: every retry after a challenge takes a new CSeq (RFC 3261 §22.2). */
  nextSeq(): number;
  readonly contact?: string;
  readonly route?: readonly string[];
  readonly headers?: readonly (readonly [string, string])[];
  readonly body?: Buffer;
  readonly contentType?: string;
}

export interface SendOptions {
  readonly digest?: DigestClient;
  /** Send here rather than to the Request-URI (an outbound proxy, RFC 3261 §8.1.2). */
  readonly via?: SipUri;
  /** Never switch to TCP (when the request is known to fit, or the peer is UDP-only). */
  readonly udpOnly?: boolean;
}

/** The request did not fit into a UDP datagram and no stream transport reached the peer (RFC 3261 §18.1.1). */
export class TooLargeForUdp extends Error {
  override readonly name = 'TooLargeForUdp';
}

export interface EndpointOptions {
  readonly listen: readonly ListenSpec[];
  readonly clientAddress: string;
  readonly timers: Timers;
  readonly transactions: Omit<TransactionOptions, 'timers' | 'log'>;
  readonly userAgent: string;
  readonly tlsClient?: { readonly ca?: Buffer; readonly rejectUnauthorized: boolean };
  readonly log: Logger;
}

const SUPPORTED_OPTIONS: ReadonlySet<string> = new Set([]);

export class SipEndpoint {
  readonly transport: SipTransport;
  private readonly tx: TransactionLayer;
  private handler: ((tx: ServerTransaction) => void) | null = null;

  constructor(private readonly opts: EndpointOptions) {
    this.transport = new SipTransport(
      {
        listen: opts.listen,
        clientAddress: opts.clientAddress,
        connectTimeoutMs: 5000,
        idleTimeoutMs: 300_000,
        maxConnections: 1024,
        log: opts.log,
        ...(opts.tlsClient ? { tlsClient: opts.tlsClient } : {}),
      },
      {
        message: (m, source) => this.tx.receive(m, source),
        invalid: (err, source) => {
          opts.log.debug({ err: err.message, status: err.status, source }, 'invalid SIP message');
          // Only requests are answered (RFC 3261 §8.2); a bad response is dropped (§18.1.2).
          if (!err.head?.request || err.head.method === 'ACK') return;
          const res = makeResponse({ headers: err.head.headers }, err.status, {
            reason: `${REASONS[err.status]} (${err.message})`,
          });
          this.tx.transmit(res, responseFlow({ headers: err.head.headers }, source));
        },
      },
    );
    this.tx = new TransactionLayer(
      this.transport,
      { ...opts.transactions, timers: opts.timers, log: opts.log },
      (stx) => this.inbound(stx),
    );
  }

  start(): Promise<void> {
    return this.transport.start();
  }

  /** Receives every inbound request that passed the UAS checks. */
  onRequest(fn: (tx: ServerTransaction) => void): void {
    this.handler = fn;
  }

  /** A Contact URI at which this endpoint receives requests for `user` (RFC 3261 §8.1.1.8). */
  contact(user: string, prefer: TransportName = 'udp'): string {
    const ep = this.transport.local(prefer) ?? this.transport.local('udp');
    if (!ep) throw new Error('the SIP transport is not started');
    const host = ep.address.includes(':') ? `[${ep.address}]` : ep.address;
    const transport = ep.transport === 'udp' ? '' : `;transport=${ep.transport}`;
    return `sip:${encodeURIComponent(user)}@${host}:${ep.port}${transport}`;
  }

  /** Runs a request as a client transaction, answering digest challenges; resolves with the final response. */
  async request(spec: RequestSpec, opts: SendOptions = {}): Promise<SipResponse> {
    const target = opts.via ?? parseSipUri(spec.route?.[0]?.replace(/^<|>.*$/g, '') ?? spec.uri);
    if (!target) throw new Error(`cannot route to ${spec.uri}`);
    let dest = await resolveUri(target);
    // Streams: connect first, so that the Via names the connection's local address (RFC 3261 §18.1.1).
    if (dest.transport !== 'udp')
      await this.transport.connect(dest).catch((err: unknown) => {
        throw new TransportFailure(String(err));
      });
    let freshChallenge = false;
    for (let attempt = 0; attempt < 4; attempt++) {
      const auth = opts.digest?.headers(spec.method, spec.uri, spec.body) ?? [];
      let req = this.build(spec, auth, dest);
      if (dest.transport === 'udp' && serialize(req).length > UDP_MESSAGE_LIMIT && !opts.udpOnly) {
        // RFC 3261 §18.1.1: a request over 1300 bytes must use a congestion-controlled transport.
        const tcp: Endpoint = { ...dest, transport: 'tcp' };
        try {
          await this.transport.connect(tcp);
        } catch {
          throw new TooLargeForUdp(`${spec.method} of ${serialize(req).length} bytes and no TCP to ${dest.address}`);
        }
        dest = tcp;
        req = this.build(spec, auth, dest);
      }
      const res = await this.tx.request(req, dest);
      if ((res.status !== 401 && res.status !== 407) || !opts.digest) return res;
      const values = res.headers.all(res.status === 407 ? 'Proxy-Authenticate' : 'WWW-Authenticate');
      const ch = opts.digest.challenged(res.status, values);
      // RFC 2617 §3.2.1: a new challenge after answering a fresh one, not marked stale, refuses the credentials.
      if (!ch || (freshChallenge && !ch.stale)) return res;
      freshChallenge = true;
    }
    throw new Error('too many authentication rounds');
  }

  private build(spec: RequestSpec, auth: readonly (readonly [string, string])[], dest: Flow): SipRequest {
    const h = new SipHeaders();
    const local = this.transport.local(dest.transport) ?? this.transport.connectionLocal(dest);
    const sentBy = local
      ? `${local.address.includes(':') ? `[${local.address}]` : local.address}:${local.port}`
      : '127.0.0.1';
    h.add('Via', `SIP/2.0/${dest.transport.toUpperCase()} ${sentBy};branch=${newBranch()};rport`);
    h.add('Max-Forwards', '70');
    for (const r of spec.route ?? []) h.add('Route', r);
    h.add(
      'From',
      formatNameAddr({
        ...(spec.from.display ? { display: spec.from.display } : {}),
        uri: spec.from.uri,
        params: new Map([['tag', spec.from.tag]]),
      }),
    );
    h.add('To', `<${spec.to.uri}>${spec.to.tag ? formatParams(new Map([['tag', spec.to.tag]])) : ''}`);
    h.add('Call-ID', spec.callId);
    h.add('CSeq', `${spec.nextSeq()} ${spec.method}`);
    if (spec.contact) h.add('Contact', `<${spec.contact}>`);
    h.add('User-Agent', this.opts.userAgent);
    for (const [k, v] of auth) h.add(k, v);
    for (const [k, v] of spec.headers ?? []) h.add(k, v);
    if (spec.body && spec.body.length > 0 && spec.contentType) h.add('Content-Type', spec.contentType);
    return { kind: 'request', method: spec.method, uri: spec.uri, headers: h, body: spec.body ?? Buffer.alloc(0) };
  }

  /** RFC 3261 §8.2.1–§8.2.2 checks every UAS makes before looking at the method's semantics. */
  private inbound(stx: ServerTransaction): void {
    const req = stx.request;
    const mf = req.headers.get('Max-Forwards');
    if (mf !== undefined && Number(mf.trim()) === 0 && req.method !== 'OPTIONS') {
      stx.respond(483);
      return;
    }
    if (!parseSipUri(req.uri)) {
      stx.respond(416);
      return;
    } // §8.2.2.1: only sip/sips Request-URIs
    const unsupported = req.headers.all('Require').filter((o) => !SUPPORTED_OPTIONS.has(o.toLowerCase()));
    if (unsupported.length > 0) {
      stx.respond(420, { headers: [['Unsupported', unsupported.join(', ')]] });
      return;
    }
    if (!this.handler) {
      stx.respond(503, { headers: [['Retry-After', '30']] });
      return;
    }
    this.handler(stx);
  }

  async close(): Promise<void> {
    this.tx.close();
    await this.transport.close();
  }
}

/** RFC 3263-lite: the transport, address and port a URI (or a proxy URI) is reached at. */
export async function resolveUri(u: SipUri): Promise<Endpoint> {
  const param = u.params.get('transport')?.toLowerCase();
  const transport: TransportName = u.scheme === 'sips' || param === 'tls' ? 'tls' : param === 'tcp' ? 'tcp' : 'udp';
  const host = (u.params.get('maddr') ?? u.host).replace(/^\[|\]$/g, '');
  const address = isIP(host) ? host : (await lookup(host)).address;
  return { transport, address, port: defaultPort(u), host };
}

export const newTag = () => randomToken(6);
export const newCallId = (host: string) => `${randomToken(12)}@${host}`;
