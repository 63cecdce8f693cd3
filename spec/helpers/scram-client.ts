// Client side of SCRAM (RFC 5802 §5, RFC 7677) for tests. Written against node:crypto only, independently of
// the server code, so a shared misreading of the RFC cannot hide in both sides. Pure: no I/O.
// The password is used as given: callers pass ASCII or already-prepared (RFC 8265 OpaqueString) strings.
import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';

export type ScramClientHash = 'sha1' | 'sha256';

const SIZES: Record<ScramClientHash, number> = { sha1: 20, sha256: 32 };

/** RFC 5802 §5.1: ',' and '=' in a saslname are sent as =2C and =3D. */
export function escapeSaslname(name: string): string {
  return name.replace(/=/g, '=3D').replace(/,/g, '=2C');
}

/** RFC 5802 §7 gs2-header: gs2-cbind-flag "," [ "a=" saslname ] ",". */
export function gs2Header(flag: 'n' | 'y' | { p: string }, authzid?: string): string {
  const cb = typeof flag === 'string' ? flag : `p=${flag.p}`;
  return `${cb},${authzid === undefined ? '' : `a=${escapeSaslname(authzid)}`},`;
}

export interface ScramClientOptions {
  username: string;
  password: string;
  hash: ScramClientHash;
  /** Client nonce; random when omitted. */
  nonce?: string;
  /** Defaults to 'n,,' (no channel binding, no authzid). */
  gs2Header?: string;
  /** Channel binding data appended to the gs2-header in c= (RFC 5802 §7 cbind-input). */
  cbindData?: Buffer;
}

/** Lets negative tests send a deliberately wrong c= or r=. */
export interface ClientFinalOverrides {
  channelBinding?: string;
  nonce?: string;
}

export class ScramClient {
  private readonly nonce: string;
  private readonly header: string;
  private serverSignature: Buffer | null = null;

  constructor(private readonly opts: ScramClientOptions) {
    this.nonce = opts.nonce ?? randomBytes(18).toString('base64');
    this.header = opts.gs2Header ?? 'n,,';
  }

  /** client-first-message-bare (without the gs2-header), part of AuthMessage. */
  get firstBare(): string {
    return `n=${escapeSaslname(this.opts.username)},r=${this.nonce}`;
  }

  clientFirst(): string {
    return this.header + this.firstBare;
  }

  clientFinal(serverFirst: string, overrides: ClientFinalOverrides = {}): string {
    const attrs = new Map(serverFirst.split(',').map((a) => [a.slice(0, 1), a.slice(2)] as const));
    const combined = attrs.get('r');
    const salt = attrs.get('s');
    const iterations = Number(attrs.get('i'));
    if (!combined || !salt || !Number.isInteger(iterations) || iterations < 1) {
      throw new Error(`bad server-first-message: ${serverFirst}`);
    }
    if (!combined.startsWith(this.nonce)) throw new Error('server nonce does not extend the client nonce');
    const { hash, password } = this.opts;
    const cbind = Buffer.concat([Buffer.from(this.header, 'utf8'), this.opts.cbindData ?? Buffer.alloc(0)]);
    const withoutProof = `c=${overrides.channelBinding ?? cbind.toString('base64')},r=${overrides.nonce ?? combined}`;
    const salted = pbkdf2Sync(password, Buffer.from(salt, 'base64'), iterations, SIZES[hash], hash);
    const clientKey = createHmac(hash, salted).update('Client Key').digest();
    const storedKey = createHash(hash).update(clientKey).digest();
    const authMessage = `${this.firstBare},${serverFirst},${withoutProof}`;
    const signature = createHmac(hash, storedKey).update(authMessage).digest();
    const proof = Buffer.from(clientKey.map((b, i) => b ^ (signature[i] ?? 0)));
    const serverKey = createHmac(hash, salted).update('Server Key').digest();
    this.serverSignature = createHmac(hash, serverKey).update(authMessage).digest();
    return `${withoutProof},p=${proof.toString('base64')}`;
  }

  /** Mutual authentication (RFC 5802 §3): the server proves it knows ServerKey. */
  verifyServerFinal(serverFinal: string): void {
    if (!this.serverSignature) throw new Error('clientFinal() must run first');
    if (serverFinal.startsWith('e=')) throw new Error(`server error: ${serverFinal.slice(2)}`);
    if (serverFinal !== `v=${this.serverSignature.toString('base64')}`) throw new Error('server signature mismatch');
  }
}
