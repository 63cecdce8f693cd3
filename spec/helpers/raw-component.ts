// A raw XEP-0114 component stream for conversation tests: the bytes it sends are exactly the ones given, and
// everything the server answers is kept by RawStream (headers, elements, stream error, close).
import { createHash } from 'node:crypto';
import { NS } from '../../server/xml/ns.js';
import { RawStream } from './raw-stream.js';

/** The component's stream header (XEP-0114 §3): 'to' names the component, not the server. */
export function componentHeader(domain: string, ns: string = NS.COMPONENT): string {
  return `<?xml version='1.0'?><stream:stream xmlns='${ns}' xmlns:stream='${NS.STREAM}' to='${domain}'>`;
}

/** XEP-0114 §3: lowercase hex SHA-1 of the stream id followed by the secret. */
export function componentDigest(streamId: string, secret: string): string {
  return createHash('sha1')
    .update(streamId + secret, 'utf8')
    .digest('hex');
}

/** Opens a component stream and waits for the server's header; resolves with its stream id. */
export async function openComponent(port: number, domain: string): Promise<{ s: RawStream; id: string }> {
  const s = await RawStream.connect({ port });
  s.sendHeader(componentHeader(domain));
  const header = await s.waitFor(() => s.headers[0], "the server's stream header");
  return { s, id: header.id ?? '' };
}

/** Connects, sends the handshake with `secret` and waits for the empty <handshake/> of XEP-0114 §3. */
export async function connectComponent(port: number, domain: string, secret: string): Promise<RawStream> {
  const { s, id } = await openComponent(port, domain);
  s.send(`<handshake>${componentDigest(id, secret)}</handshake>`);
  await s.waitFor(() => s.find((el) => el.name === 'handshake') ?? s.streamError(), 'the handshake acknowledgement');
  const err = s.streamError();
  if (err) throw new Error(`component handshake refused: ${err.condition} ${err.text ?? ''}`);
  return s;
}
