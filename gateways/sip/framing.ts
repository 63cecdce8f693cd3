// Stream framing for SIP over TCP and TLS (RFC 3261 §18.3): a message ends after its header section plus
// Content-Length bytes of body; Content-Length is mandatory on streams (§20.14). CRLF keep-alives of RFC 5626
// §3.5.1 (a double-CRLF ping, a single-CRLF pong) are recognised between messages. Bytes are held only up to the
// limits: a peer cannot make the framer buffer more than one maximal message.
import {
  build,
  contentLength,
  DEFAULT_LIMITS,
  headInfo,
  parseHead,
  type SipLimits,
  type SipMessage,
  SipParseError,
  salvage,
} from './message.js';

export type FrameEvent =
  | { readonly kind: 'message'; readonly message: SipMessage }
  | { readonly kind: 'ping' }
  /** `fatal`: the framing is lost; answer if possible, then close the connection. */
  | { readonly kind: 'error'; readonly error: SipParseError; readonly fatal: boolean };

export class SipStreamFramer {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of a rejected message's body still to be skipped. */
  private skip = 0;
  private dead = false;

  constructor(private readonly limits: SipLimits = DEFAULT_LIMITS) {}

  /** Feeds bytes; returns the complete messages (and errors) they finish, in order. */
  push(chunk: Buffer): FrameEvent[] {
    if (this.dead) return [];
    if (this.skip > 0) {
      const n = Math.min(this.skip, chunk.length);
      this.skip -= n;
      chunk = chunk.subarray(n);
    }
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: FrameEvent[] = [];
    while (!this.dead && this.buf.length > 0) {
      const ev = this.next();
      if (!ev) break;
      out.push(ev);
    }
    return out;
  }

  private next(): FrameEvent | null {
    const b = this.buf;
    // RFC 5626 §3.5.1: CRLFCRLF is a ping (answered with CRLF), a lone CRLF a pong; both sit between messages.
    if (b[0] === 0x0d || b[0] === 0x0a) {
      const lead = b.subarray(0, 4).toString('latin1');
      if (lead === '\r\n\r\n') {
        this.buf = b.subarray(4);
        return { kind: 'ping' };
      }
      if ('\r\n\r\n'.startsWith(lead)) return null; // maybe the start of a ping: wait for more
      this.buf = b.subarray(lead.startsWith('\r\n') ? 2 : 1); // a pong, or a stray line end
      return this.buf.length > 0 ? this.next() : null;
    }
    const end = b.indexOf('\r\n\r\n');
    if (end < 0) {
      if (b.length > this.limits.maxHeaderBytes) {
        return this.fatal(new SipParseError('header section too large', 513, salvage(b)));
      }
      return null;
    }
    let head: ReturnType<typeof parseHead>;
    try {
      head = parseHead(b.subarray(0, end), this.limits);
    } catch (err) {
      if (!(err instanceof SipParseError)) throw err;
      // The body length is still known when the Content-Length itself was readable: skip it and go on.
      const cl = err.head ? safeLength(err.head.headers) : undefined;
      if (cl === undefined) return this.fatal(err);
      this.drop(end + 4 + cl);
      return { kind: 'error', error: err, fatal: false };
    }
    const cl = contentLength(head.headers);
    if (cl === undefined) {
      return this.fatal(new SipParseError('Content-Length is required over a stream transport', 400, headInfo(head)));
    }
    if (end + 4 + cl > this.limits.maxMessageBytes) {
      const status = head.start.request ? 413 : 513;
      return this.fatal(new SipParseError('message too large', status, headInfo(head)));
    }
    if (b.length < end + 4 + cl) return null;
    const body = Buffer.from(b.subarray(end + 4, end + 4 + cl));
    this.buf = b.subarray(end + 4 + cl);
    return { kind: 'message', message: build(head, body) };
  }

  private drop(n: number): void {
    if (n <= this.buf.length) {
      this.buf = this.buf.subarray(n);
    } else {
      this.skip = n - this.buf.length;
      this.buf = Buffer.alloc(0);
    }
  }

  private fatal(error: SipParseError): FrameEvent {
    this.dead = true;
    this.buf = Buffer.alloc(0);
    return { kind: 'error', error, fatal: true };
  }
}

function safeLength(h: import('./message.js').SipHeaders): number | undefined {
  const v = h.get('Content-Length');
  if (v === undefined || !/^\s*\d{1,10}\s*$/.test(v)) return undefined;
  const n = Number(v);
  return n <= DEFAULT_LIMITS.maxMessageBytes ? n : undefined;
}
