// SCRAM credential derivation (RFC 5802 §3, RFC 7677) and TLS channel binding sources (RFC 5929, RFC 9266).
// Passwords reach these functions already prepared with PRECIS OpaqueString (RFC 8265 §4.2) by the caller.
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import type { TLSSocket } from 'node:tls';
import type { ScramCredential, ScramHash } from '../../../storage/api/index.js';
import type { ChannelBindingSource, ChannelBindingType } from './mechanism.js';

/** RFC 7677 §4: at least 4096 iterations. */
export const DEFAULT_ITERATIONS = 4096;
const DEFAULT_SALT_BYTES = 16;
export const SCRAM_HASHES: readonly ScramHash[] = ['sha1', 'sha256'];

/** Output length in bytes of each hash, i.e. of Hi() and of the keys (RFC 5802 §2.2). */
export const HASH_BYTES: Record<ScramHash, number> = { sha1: 20, sha256: 32 };

export interface DeriveOptions {
  salt?: Buffer;
  iterations?: number;
}

/** RFC 5802 §2.2: Hi(str, salt, i) is PBKDF2 with HMAC as the PRF and dkLen the hash length. */
function saltedPassword(password: string, salt: Buffer, iterations: number, hash: ScramHash): Buffer {
  return pbkdf2Sync(Buffer.from(password, 'utf8'), salt, iterations, HASH_BYTES[hash], hash);
}

export function hmac(hash: ScramHash, key: Buffer, data: Buffer | string): Buffer {
  return createHmac(hash, key).update(data).digest();
}

export function digest(hash: ScramHash, data: Buffer): Buffer {
  return createHash(hash).update(data).digest();
}

/** RFC 5802 §3: StoredKey = H(HMAC(SaltedPassword, "Client Key")), ServerKey = HMAC(SaltedPassword, "Server Key"). */
function keysFrom(salted: Buffer, hash: ScramHash): { storedKey: Buffer; serverKey: Buffer } {
  const clientKey = hmac(hash, salted, 'Client Key');
  return { storedKey: digest(hash, clientKey), serverKey: hmac(hash, salted, 'Server Key') };
}

export function deriveScram(password: string, hash: ScramHash, opts: DeriveOptions = {}): ScramCredential {
  const iterations = opts.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1)
    throw new RangeError(`invalid SCRAM iteration count ${iterations}`);
  const salt = opts.salt ?? randomBytes(DEFAULT_SALT_BYTES);
  if (salt.length === 0) throw new RangeError('SCRAM salt must not be empty');
  return { salt, iterations, ...keysFrom(saltedPassword(password, salt, iterations, hash), hash) };
}

/** One credential per supported hash; each gets its own random salt unless one is given. */
export function deriveAll(password: string, opts: DeriveOptions = {}): Record<ScramHash, ScramCredential> {
  return { sha1: deriveScram(password, 'sha1', opts), sha256: deriveScram(password, 'sha256', opts) };
}

/** For PLAIN (RFC 4616): recompute StoredKey from the offered password and compare in constant time. */
export function verifyPassword(password: string, cred: ScramCredential, hash: ScramHash): boolean {
  const { storedKey } = keysFrom(saltedPassword(password, cred.salt, cred.iterations, hash), hash);
  return storedKey.length === cred.storedKey.length && timingSafeEqual(storedKey, cred.storedKey);
}

// ---- Channel binding --------------------------------------------------------------------------------------

/** RFC 5929 §4.1: digest named by the certificate's signature algorithm, MD5 and SHA-1 upgraded to SHA-256. */
const SIGNATURE_HASHES: Record<string, string> = {
  '1.2.840.113549.1.1.4': 'sha256', // md5WithRSAEncryption
  '1.2.840.113549.1.1.5': 'sha256', // sha1WithRSAEncryption
  '1.2.840.113549.1.1.14': 'sha224',
  '1.2.840.113549.1.1.11': 'sha256',
  '1.2.840.113549.1.1.12': 'sha384',
  '1.2.840.113549.1.1.13': 'sha512',
  '1.2.840.10045.4.1': 'sha256', // ecdsa-with-SHA1
  '1.2.840.10045.4.3.1': 'sha224',
  '1.2.840.10045.4.3.2': 'sha256',
  '1.2.840.10045.4.3.3': 'sha384',
  '1.2.840.10045.4.3.4': 'sha512',
  '1.2.840.10040.4.3': 'sha256', // dsa-with-sha1
  '2.16.840.1.101.3.4.3.2': 'sha256', // dsa-with-sha256
};
const RSASSA_PSS = '1.2.840.113549.1.1.10';
/** Digest OIDs that can appear as the RSASSA-PSS hashAlgorithm (RFC 4055 §3.1). */
const DIGEST_OIDS: Record<string, string> = {
  '1.3.14.3.2.26': 'sha256', // sha1, upgraded per RFC 5929 §4.1
  '2.16.840.1.101.3.4.2.4': 'sha224',
  '2.16.840.1.101.3.4.2.1': 'sha256',
  '2.16.840.1.101.3.4.2.2': 'sha384',
  '2.16.840.1.101.3.4.2.3': 'sha512',
};

interface Tlv {
  tag: number;
  start: number; // first content byte
  end: number; // one past the last content byte
}

/** Reads one DER TLV at `pos` (X.690 §8.1); only definite lengths, which DER mandates (X.690 §10.1). */
function readTlv(der: Buffer, pos: number): Tlv {
  const tag = der[pos];
  let len = der[pos + 1];
  if (tag === undefined || len === undefined) throw new RangeError('truncated DER');
  let start = pos + 2;
  if (len & 0x80) {
    const count = len & 0x7f;
    if (count === 0 || count > 4) throw new RangeError('unsupported DER length');
    len = 0;
    for (let i = 0; i < count; i++) len = len * 256 + (der[start + i] ?? Number.NaN);
    start += count;
  }
  const end = start + len;
  if (!Number.isFinite(end) || end > der.length) throw new RangeError('truncated DER');
  return { tag, start, end };
}

/** X.690 §8.19: base-128 subidentifiers; the first one packs the first two arcs. */
function decodeOid(bytes: Buffer): string {
  const ids: number[] = [];
  let value = 0;
  for (const b of bytes) {
    value = value * 128 + (b & 0x7f);
    if (!(b & 0x80)) {
      ids.push(value);
      value = 0;
    }
  }
  const first = ids[0] ?? 0;
  const top = Math.min(2, Math.floor(first / 40));
  return [top, first - top * 40, ...ids.slice(1)].join('.');
}

/** AlgorithmIdentifier ::= SEQUENCE { algorithm OID, parameters ANY } (RFC 5280 §4.1.1.2). */
function readAlgorithm(der: Buffer, seq: Tlv): { oid: string; params: Tlv | null } {
  const oidTlv = readTlv(der, seq.start);
  if (oidTlv.tag !== 0x06) throw new RangeError('expected OID');
  const params = oidTlv.end < seq.end ? readTlv(der, oidTlv.end) : null;
  return { oid: decodeOid(der.subarray(oidTlv.start, oidTlv.end)), params };
}

/** The hash to use for tls-server-end-point, or null when RFC 5929 leaves it undefined (e.g. Ed25519). */
export function endPointHash(certDer: Buffer): string | null {
  const cert = readTlv(certDer, 0);
  const tbs = readTlv(certDer, cert.start);
  const { oid, params } = readAlgorithm(certDer, readTlv(certDer, tbs.end));
  if (oid !== RSASSA_PSS) return SIGNATURE_HASHES[oid] ?? null;
  // RFC 4055 §3.1: hashAlgorithm [0] defaults to SHA-1 when absent.
  if (params === null || params.start === params.end) return 'sha256';
  const first = readTlv(certDer, params.start);
  if (first.tag !== 0xa0) return 'sha256';
  return DIGEST_OIDS[readAlgorithm(certDer, readTlv(certDer, first.start)).oid] ?? null;
}

function endPointHashOrNull(raw: Buffer): string | null {
  try {
    return endPointHash(raw);
  } catch (err) {
    // A certificate we cannot parse simply yields no tls-server-end-point binding; anything else is a bug.
    if (err instanceof RangeError) return null;
    throw err;
  }
}

/** RFC 9266 §2: 32 bytes from the exporter with this label and an empty context. */
const EXPORTER_LABEL = 'EXPORTER-Channel-Binding';

/**
 * One source per socket, so its cache lasts: negotiation asks for it several times per login (the mechanisms to
 * offer, then the chosen mechanism), and deriving the data each time was a tenth of a login's CPU time in the
 * benchmark (docs/benchmarks.md). A WeakMap, so a closed socket takes its entry with it.
 */
const sources = new WeakMap<TLSSocket, ChannelBindingSource>();

/**
 * Channel binding data of a server-side TLS socket, computed lazily once the handshake is done.
 * tls-exporter is offered on TLS 1.3 only: on 1.2 the exporter is not bound to the handshake unless the
 * extended master secret is in use, which Node does not expose (RFC 9266 §3).
 */
/** Lets go of a socket's channel binding data once authentication is over (a session lasts much longer). */
export function releaseChannelBinding(socket: object): void {
  sources.delete(socket as TLSSocket);
}

export function tlsChannelBinding(socket: TLSSocket): ChannelBindingSource {
  const known = sources.get(socket);
  if (known) return known;
  const cache = new Map<string, Buffer | null>();
  const compute = (type: string): Buffer | null => {
    if (type === 'tls-exporter') {
      if (socket.getProtocol() !== 'TLSv1.3') return null;
      return socket.exportKeyingMaterial(32, EXPORTER_LABEL, Buffer.alloc(0));
    }
    if (type === 'tls-server-end-point') {
      // RFC 5929 §4.1: the server's own certificate, i.e. the local one on a server socket. (getCertificate is
      // the cheaper way to its DER on Node 20: getX509Certificate took five times as long in a micro-benchmark.)
      const raw = (socket.getCertificate() as { raw?: Buffer } | null)?.raw;
      if (!raw) return null;
      const hash = endPointHashOrNull(raw);
      return hash === null ? null : createHash(hash).update(raw).digest();
    }
    return null;
  };
  const data = (type: string): Buffer | null => {
    if (!cache.has(type)) cache.set(type, compute(type));
    return cache.get(type) ?? null;
  };
  const source: ChannelBindingSource = {
    // The exporter is there on every TLS 1.3 connection: offered without deriving it (most clients never ask).
    types: () => {
      const types: ChannelBindingType[] = [];
      if (socket.getProtocol() === 'TLSv1.3') types.push('tls-exporter');
      if (data('tls-server-end-point') !== null) types.push('tls-server-end-point');
      return types;
    },
    data,
  };
  sources.set(socket, source);
  return source;
}
