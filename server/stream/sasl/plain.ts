// PLAIN server (RFC 4616), verified against the stored SCRAM keys: passwords are never stored (DESIGN §5).
import type { ScramHash } from '../../../storage/api/index.js';
import { SaslFailure } from '../../errors/index.js';
import { DEFAULT_ITERATIONS, deriveScram, verifyPassword } from './credentials.js';
import type { MechanismOptions, SaslContext, SaslMechanism, SaslStep } from './mechanism.js';

/** RFC 4616 §2 requires accepting at least 255 octets per field; this bounds the rest. */
const MAX_MESSAGE_BYTES = 4096;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * RFC 8265 §4.2.1 OpaqueString mapping rules: non-ASCII spaces become U+0020, then NFC. The disallowed-code-point
 * check only matters when a password is set; a password that could never have been stored cannot match anyway.
 */
export function mapOpaqueString(password: string): string {
  return password.replace(/(?!\u0020)\p{Zs}/gu, ' ').normalize('NFC');
}

/**
 * Unknown users are checked against a throwaway credential so that the response time does not reveal
 * which accounts exist.
 */
let decoy: ReturnType<typeof deriveScram> | null = null;
function decoyCredential(): ReturnType<typeof deriveScram> {
  decoy ??= deriveScram('', 'sha256', { iterations: DEFAULT_ITERATIONS });
  return decoy;
}

type State = 'new' | 'await' | 'busy' | 'done';

export class PlainMechanism implements SaslMechanism {
  readonly name = 'PLAIN';
  private state: State = 'new';

  constructor(
    private readonly ctx: SaslContext,
    private readonly opts: MechanismOptions,
  ) {
    // RFC 4616 §6 and RFC 6120 §13.8: the password travels in the clear, so only over TLS.
    if (!ctx.secure) throw new SaslFailure('encryption-required');
  }

  start(initial: Buffer | null): Promise<SaslStep> {
    // RFC 6120 §6.4.2: without an initial response the server sends an empty challenge first.
    if (initial === null)
      return this.advance('new', async () => ({ kind: 'challenge', data: Buffer.alloc(0) }), 'await');
    return this.advance('new', () => this.verify(initial), 'done');
  }

  step(response: Buffer): Promise<SaslStep> {
    return this.advance('await', () => this.verify(response), 'done');
  }

  /** Each instance is single use: a step out of sequence, or any step after success or failure, fails. */
  private async advance(expected: State, run: () => Promise<SaslStep>, next: State): Promise<SaslStep> {
    if (this.state !== expected) {
      this.state = 'done';
      throw new SaslFailure('malformed-request', 'unexpected SASL step');
    }
    this.state = 'busy';
    try {
      const step = await run();
      this.state = next;
      return step;
    } catch (err) {
      this.state = 'done';
      throw err;
    }
  }

  /** RFC 4616 §2: message = [authzid] UTF8NUL authcid UTF8NUL passwd. */
  private async verify(data: Buffer): Promise<SaslStep> {
    if (data.length > MAX_MESSAGE_BYTES) throw new SaslFailure('malformed-request', 'message too long');
    let text: string;
    try {
      text = utf8.decode(data);
    } catch (err) {
      if (err instanceof TypeError) throw new SaslFailure('incorrect-encoding');
      throw err;
    }
    const parts = text.split('\0');
    const [authzid, authcid, passwd] = parts;
    if (parts.length !== 3 || authzid === undefined || !authcid || !passwd) throw new SaslFailure('malformed-request');
    if (authzid !== '') {
      const accept = this.ctx.acceptAuthzid ?? ((z: string, c: string) => z === c);
      if (!accept(authzid, authcid)) throw new SaslFailure('invalid-authzid');
    }
    const password = (this.opts.preparePassword ?? mapOpaqueString)(passwd);
    // Prefer the stronger stored hash; accounts imported from older servers may only have SHA-1 keys.
    let hash: ScramHash = 'sha256';
    let cred = await this.ctx.lookupScram(authcid, hash);
    if (cred === null) {
      hash = 'sha1';
      cred = await this.ctx.lookupScram(authcid, hash);
    }
    if (cred === null) {
      verifyPassword(password, decoyCredential(), 'sha256');
      throw new SaslFailure('not-authorized');
    }
    if (!verifyPassword(password, cred, hash)) throw new SaslFailure('not-authorized');
    return { kind: 'success', data: null, username: authcid };
  }
}
