// Raw SIP over loopback for the SIP gateway specs: a UDP socket and a TCP connection that send hand-written
// requests and collect what comes back, plus builders for well-formed requests to start from. Parsing replies uses
// the gateway's own datagram parser only to pick out status codes and headers.
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { connect, type Socket } from 'node:net';
import { DigestClient } from '../../gateways/sip/digest.js';
import { parseDatagram, SipHeaders, type SipMessage } from '../../gateways/sip/message.js';
import { freePort, startTestServer, type TestServer } from './server.js';

let counter = 0;
/** A Call-ID, tag or branch suffix unique in this process. */
export const uniq = (prefix = 'x') =>
  `${prefix}${process.pid.toString(36)}${(++counter).toString(36)}${Date.now().toString(36)}`;

export interface RequestParts {
  method: string;
  uri: string;
  from: string;
  to: string;
  callId?: string;
  cseq?: number;
  /** `host:port` for the Via sent-by (the socket's own address). */
  via: string;
  transport?: 'UDP' | 'TCP';
  headers?: string[];
  body?: string | Buffer;
  contentType?: string;
  /** Leave Content-Length out (stream framing tests). */
  noContentLength?: boolean;
  /** Tags for requests inside a dialog (default: a fresh From tag, no To tag). */
  fromTag?: string;
  toTag?: string;
}

/** A complete request as bytes (CRLF line ends, Content-Length unless told otherwise). */
export function sipRequest(p: RequestParts): Buffer {
  const body = typeof p.body === 'string' ? Buffer.from(p.body, 'utf8') : (p.body ?? Buffer.alloc(0));
  const lines = [
    `${p.method} ${p.uri} SIP/2.0`,
    `Via: SIP/2.0/${p.transport ?? 'UDP'} ${p.via};branch=z9hG4bK${uniq('b')};rport`,
    'Max-Forwards: 70',
    `From: <${p.from}>;tag=${p.fromTag ?? uniq('t')}`,
    `To: <${p.to}>${p.toTag ? `;tag=${p.toTag}` : ''}`,
    `Call-ID: ${p.callId ?? uniq('c')}`,
    `CSeq: ${p.cseq ?? 1} ${p.method}`,
    ...(p.contentType && body.length > 0 ? [`Content-Type: ${p.contentType}`] : []),
    ...(p.headers ?? []),
    ...(p.noContentLength ? [] : [`Content-Length: ${body.length}`]),
  ];
  return Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), body]);
}

export const callIdOf = (m: SipMessage) => m.headers.get('Call-ID');

/**
 * Parses what the gateway sent; a response that is not fully valid (an answer to a request without From, say, has
 * none either) still yields its status and whatever headers it has.
 */
function lenientParse(buf: Buffer): SipMessage | null {
  try {
    return parseDatagram(buf);
  } catch {
    const text = buf.toString('latin1');
    const st = /^SIP\/2\.0 (\d{3}) ?([^\r]*)\r\n/.exec(text);
    if (!st) return null;
    const headers = new SipHeaders();
    for (const line of text.slice(0, text.indexOf('\r\n\r\n')).split('\r\n').slice(1)) {
      const c = line.indexOf(':');
      if (c > 0) headers.add(line.slice(0, c).trim(), line.slice(c + 1).trim());
    }
    return { kind: 'response', status: Number(st[1]), reason: st[2] ?? '', headers, body: Buffer.alloc(0) };
  }
}

abstract class Collector {
  protected readonly inbox: SipMessage[] = [];
  private waiters: (() => void)[] = [];

  protected push(m: SipMessage): void {
    this.inbox.push(m);
    for (const w of this.waiters.splice(0)) w();
  }

  /** Waits for (and removes) the first message matching `pred`. */
  async next(pred: (m: SipMessage) => boolean, timeoutMs = 5000, what = 'a SIP message'): Promise<SipMessage> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex(pred);
      if (i >= 0) return this.inbox.splice(i, 1)[0] as SipMessage;
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timed out waiting for ${what}; got: ${this.inbox.map(describe).join(' | ')}`);
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
    }
  }

  /** The final response to the request with this Call-ID (and CSeq number, when given). */
  response(callId: string, timeoutMs = 5000, cseq?: number): Promise<SipMessage & { kind: 'response' }> {
    return this.next(
      (m) =>
        m.kind === 'response' &&
        m.status >= 200 &&
        callIdOf(m) === callId &&
        (cseq === undefined || m.headers.get('CSeq')?.startsWith(`${cseq} `) === true),
      timeoutMs,
      `a final response to ${callId}`,
    ) as Promise<SipMessage & { kind: 'response' }>;
  }

  /** Every message received so far and not taken. */
  get pending(): readonly SipMessage[] {
    return this.inbox;
  }
}

export const describe = (m: SipMessage) =>
  m.kind === 'request' ? `${m.method} ${m.uri}` : `${m.status} ${m.reason} (${m.headers.get('CSeq')})`;

export class SipUdp extends Collector {
  private constructor(
    private readonly sock: UdpSocket,
    readonly port: number,
  ) {
    super();
  }

  static async open(): Promise<SipUdp> {
    const sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const s = new SipUdp(sock, sock.address().port);
    sock.on('message', (buf) => {
      const m = lenientParse(buf);
      if (m) s.push(m);
    });
    return s;
  }

  get via(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Answers every request of `method` with 200 as it arrives (it stays in the inbox for next()). */
  autoAnswer(method: string): void {
    this.answer = method;
  }

  private answer: string | null = null;

  protected override push(m: SipMessage): void {
    if (this.answer && m.kind === 'request' && m.method === this.answer) {
      const via = m.headers.all('Via')[0] ?? '';
      const port = Number(/:(\d+)/.exec(via.split(';')[0] ?? '')?.[1] ?? 5060);
      void this.reply(m, 200, 'OK', port);
    }
    super.push(m);
  }

  send(bytes: Buffer, port: number): Promise<void> {
    return new Promise((resolve, reject) =>
      this.sock.send(bytes, port, '127.0.0.1', (e) => (e ? reject(e) : resolve())),
    );
  }

  /** Answers a request received on this socket (to its top Via's rport/port, here always the source). */
  reply(
    req: SipMessage,
    status: number,
    reason: string,
    port: number,
    extra: string[] = [],
    toTag = uniq('r'),
  ): Promise<void> {
    const lines = [
      `SIP/2.0 ${status} ${reason}`,
      ...req.headers.all('Via').map((v) => `Via: ${v}`),
      `From: ${req.headers.get('From')}`,
      `To: ${req.headers.get('To')}${/;tag=/.test(req.headers.get('To') ?? '') ? '' : `;tag=${toTag}`}`,
      `Call-ID: ${req.headers.get('Call-ID')}`,
      `CSeq: ${req.headers.get('CSeq')}`,
      ...extra,
      'Content-Length: 0',
    ];
    return this.send(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`), port);
  }

  close(): Promise<void> {
    return new Promise((r) => this.sock.close(() => r()));
  }
}

export class SipTcp extends Collector {
  private buf = Buffer.alloc(0);
  readonly closed: Promise<void>;

  private constructor(private readonly sock: Socket) {
    super();
    this.closed = new Promise((r) => sock.once('close', () => r()));
    sock.on('data', (chunk: Buffer) => {
      this.buf = Buffer.concat([this.buf, chunk]);
      for (;;) {
        const end = this.buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const m = /\r\nContent-Length:\s*(\d+)/i.exec(this.buf.subarray(0, end).toString('latin1'));
        const total = end + 4 + Number(m?.[1] ?? 0);
        if (this.buf.length < total) return;
        const msg = lenientParse(this.buf.subarray(0, total));
        if (msg) this.push(msg);
        this.buf = this.buf.subarray(total);
      }
    });
    sock.on('error', () => {});
  }

  static connect(port: number): Promise<SipTcp> {
    return new Promise((resolve, reject) => {
      const s = connect({ host: '127.0.0.1', port }, () => resolve(new SipTcp(s)));
      s.once('error', reject);
    });
  }

  get via(): string {
    return `127.0.0.1:${this.sock.localPort}`;
  }

  write(bytes: Buffer | string): void {
    this.sock.write(bytes);
  }

  close(): void {
    this.sock.destroy();
  }
}

/**
 * Sends a request and answers a 401/407 once with digest credentials (the gateway's own DigestClient, whose output the
 * unit tests check against RFC 2617/7616 examples); resolves with the final response.
 */
export async function sendAuthenticated(
  ua: SipUdp,
  port: number,
  parts: Omit<RequestParts, 'via' | 'callId' | 'cseq'>,
  credentials: { user: string; password: string },
): Promise<SipMessage & { kind: 'response' }> {
  const callId = uniq('c');
  const digest = new DigestClient(credentials.user, credentials.password);
  for (let cseq = 1; cseq <= 2; cseq++) {
    const auth = digest.headers(parts.method, parts.uri, undefined).map(([k, v]) => `${k}: ${v}`);
    await ua.send(
      sipRequest({ ...parts, via: ua.via, callId, cseq, headers: [...(parts.headers ?? []), ...auth] }),
      port,
    );
    const res = await ua.response(callId, 8000, cseq);
    if (res.status !== 401 && res.status !== 407) return res;
    digest.challenged(res.status, res.headers.all(res.status === 401 ? 'WWW-Authenticate' : 'Proxy-Authenticate'));
  }
  throw new Error(`${parts.method} ${parts.uri}: still challenged after authenticating`);
}

/** The gateway domain the SIP conversation tests use. */
export const SIP_GW = 'sip.localhost';

/**
 * A test server whose SIP gateway (mode `domain`, XMPP domain `localhost`) listens on a free UDP port, with short
 * retransmission timers; `options` are extra driver option lines, `extraYaml` extra top-level config lines.
 */
export async function startSipGatewayServer(
  options: string[] = [],
  extraYaml: string[] = [],
): Promise<{ srv: TestServer; port: number }> {
  const port = await freePort();
  const srv = await startTestServer({
    yaml: [
      'gateways:',
      `  ${SIP_GW}:`,
      '    driver: sip',
      '    options:',
      '      mode: domain',
      `      sip_listen: [{ transport: udp, address: 127.0.0.1, port: ${port} }]`,
      '      xmpp_domain: localhost',
      '      timer_t1_ms: 50',
      ...options.map((o) => `      ${o}`),
      ...extraYaml,
    ].join('\n'),
  });
  return { srv, port };
}
