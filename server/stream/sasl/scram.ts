// SCRAM server (RFC 5802 §5, §7; RFC 7677), including the -PLUS channel binding variants (RFC 5802 §6).
// Failure texts reuse the RFC 5802 §7 server-error-value names so operators can match them to the spec.
import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { ScramCredential, ScramHash } from '../../../storage/api/index.js';
import { SaslFailure } from '../../errors/index.js';
import { DEFAULT_ITERATIONS, digest, HASH_BYTES, hmac } from './credentials.js';
import type { MechanismOptions, NonceReplayGuard, SaslContext, SaslMechanism, SaslStep } from './mechanism.js';

/** Far above any honest client-first/client-final message; bounds parsing work and replay cache memory. */
const MAX_MESSAGE_BYTES = 4096;
const SERVER_NONCE_BYTES = 24;
const FAKE_SALT_BYTES = 16;
/** Keys the fake salts of unknown users; stable for the process so repeated probes see the same salt. */
const PROCESS_SECRET = randomBytes(32);

/** Bounded, TTL-limited memory of client nonces (RFC 5802 §9: nonces must not be reused). */
export class NonceReplayCache implements NonceReplayGuard {
  private readonly expiries = new Map<string, number>();
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(opts: { ttlMs?: number; maxEntries?: number } = {}, now: () => number = Date.now) {
    this.ttlMs = opts.ttlMs ?? 10 * 60_000;
    this.maxEntries = opts.maxEntries ?? 10_000;
    this.now = now;
  }

  seen(nonce: string): boolean {
    const t = this.now();
    // Insertion order equals expiry order because the TTL is constant, so pruning stops at the first live entry.
    for (const [key, expiry] of this.expiries) {
      if (expiry > t) break;
      this.expiries.delete(key);
    }
    if (this.expiries.has(nonce)) return true;
    if (this.expiries.size >= this.maxEntries) {
      const oldest = this.expiries.keys().next();
      if (!oldest.done) this.expiries.delete(oldest.value);
    }
    this.expiries.set(nonce, t + this.ttlMs);
    return false;
  }
}

const processReplayGuard = new NonceReplayCache();

const utf8 = new TextDecoder('utf-8', { fatal: true });
/** RFC 5802 §7 printable: %x21-2B / %x2D-7E (printable ASCII except ','). */
const NONCE = /^[\x21-\x2b\x2d-\x7e]+$/;
/** RFC 5802 §7 saslname: no ',' and '=' only as =2C or =3D. */
const SASLNAME = /^(?:[^=,]|=2C|=3D)+$/;
const ATTR_VAL = /^[A-Za-z]=/;
const CB_NAME = /^p=([A-Za-z0-9.-]+)$/;
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function fail(condition: 'malformed-request' | 'incorrect-encoding' | 'not-authorized', text: string): never {
  throw new SaslFailure(condition, text);
}

/** RFC 5802 §5.1: messages are UTF-8 text; NUL is excluded by every production. */
function decodeText(data: Buffer): string {
  if (data.length > MAX_MESSAGE_BYTES) fail('malformed-request', 'message too long');
  let text: string;
  try {
    text = utf8.decode(data);
  } catch (err) {
    if (err instanceof TypeError) fail('incorrect-encoding', 'invalid-encoding');
    throw err;
  }
  if (text.includes('\0')) fail('malformed-request', 'invalid-encoding');
  return text;
}

/** RFC 5802 §5.1 'n' and 'a': '=2C' → ',' and '=3D' → '='; any other '=' is malformed. */
function decodeSaslname(value: string): string {
  if (!SASLNAME.test(value)) fail('malformed-request', 'invalid-username-encoding');
  return value.replace(/=2C|=3D/g, (m) => (m === '=2C' ? ',' : '='));
}

function decodeBase64(value: string): Buffer {
  if (!BASE64.test(value)) fail('incorrect-encoding', 'invalid-encoding');
  return Buffer.from(value, 'base64');
}

function checkExtensions(attrs: string[]): void {
  // RFC 5802 §5.1: unknown optional extensions are ignored, but they must still be attr=value.
  for (const attr of attrs) if (!ATTR_VAL.test(attr)) fail('malformed-request', 'invalid attribute');
}

type CbindFlag = { kind: 'n' } | { kind: 'y' } | { kind: 'p'; type: string };

interface ClientFirst {
  gs2Header: string;
  flag: CbindFlag;
  authzid: string | null;
  username: string;
  nonce: string;
  bare: string;
}

/** RFC 5802 §7: client-first-message = gs2-header client-first-message-bare. */
function parseClientFirst(text: string): ClientFirst {
  const c1 = text.indexOf(',');
  const c2 = c1 < 0 ? -1 : text.indexOf(',', c1 + 1);
  if (c2 < 0) fail('malformed-request', 'missing gs2-header');
  const flagText = text.slice(0, c1);
  const authzText = text.slice(c1 + 1, c2);
  const cb = CB_NAME.exec(flagText);
  let flag: CbindFlag;
  if (flagText === 'n' || flagText === 'y') flag = { kind: flagText };
  else if (cb?.[1]) flag = { kind: 'p', type: cb[1] };
  else fail('malformed-request', 'invalid gs2-cbind-flag');
  if (authzText !== '' && !authzText.startsWith('a=')) fail('malformed-request', 'invalid authzid');
  const authzid = authzText === '' ? null : decodeSaslname(authzText.slice(2));
  const bare = text.slice(c2 + 1);
  const attrs = bare.split(',');
  // RFC 5802 §5.1 'm': a mandatory extension we do not implement means authentication must fail.
  if (attrs[0]?.startsWith('m=')) fail('malformed-request', 'extensions-not-supported');
  const [user, nonce, ...extensions] = attrs;
  if (!user?.startsWith('n=') || !nonce?.startsWith('r=')) fail('malformed-request', 'attributes out of order');
  const clientNonce = nonce.slice(2);
  if (!NONCE.test(clientNonce)) fail('malformed-request', 'invalid nonce');
  checkExtensions(extensions);
  return {
    gs2Header: text.slice(0, c2 + 1),
    flag,
    authzid,
    username: decodeSaslname(user.slice(2)),
    nonce: clientNonce,
    bare,
  };
}

interface ClientFinal {
  channelBinding: string;
  nonce: string;
  proof: string;
  withoutProof: string;
}

/** RFC 5802 §7: client-final-message = channel-binding "," nonce ["," extensions] "," proof. */
function parseClientFinal(text: string): ClientFinal {
  const at = text.lastIndexOf(',p=');
  if (at < 0) fail('malformed-request', 'missing proof');
  const withoutProof = text.slice(0, at);
  const [cbind, nonce, ...extensions] = withoutProof.split(',');
  if (!cbind?.startsWith('c=') || !nonce?.startsWith('r=')) fail('malformed-request', 'attributes out of order');
  checkExtensions(extensions);
  return { channelBinding: cbind.slice(2), nonce: nonce.slice(2), proof: text.slice(at + 3), withoutProof };
}

type State = 'new' | 'await-first' | 'await-final' | 'busy' | 'done';

interface Exchange {
  username: string;
  credential: ScramCredential;
  known: boolean;
  cbindInput: string;
  combinedNonce: string;
  authPrefix: string;
}

export class ScramMechanism implements SaslMechanism {
  private state: State = 'new';
  private exchange: Exchange | null = null;

  constructor(
    readonly name: string,
    private readonly hash: ScramHash,
    private readonly plus: boolean,
    private readonly ctx: SaslContext,
    private readonly opts: MechanismOptions,
  ) {}

  start(initial: Buffer | null): Promise<SaslStep> {
    // RFC 6120 §6.4.2: without an initial response the server sends an empty challenge first.
    if (initial === null)
      return this.advance('new', async () => [{ kind: 'challenge', data: Buffer.alloc(0) }, 'await-first']);
    return this.advance('new', () => this.clientFirst(initial));
  }

  step(response: Buffer): Promise<SaslStep> {
    if (this.state === 'await-first') return this.advance('await-first', () => this.clientFirst(response));
    return this.advance('await-final', () => this.clientFinal(response));
  }

  /** Each instance is single use: a step out of sequence, or any step after success or failure, fails. */
  private async advance(expected: State, run: () => Promise<[SaslStep, State]>): Promise<SaslStep> {
    if (this.state !== expected) {
      this.state = 'done';
      throw new SaslFailure('malformed-request', 'unexpected SASL step');
    }
    this.state = 'busy';
    try {
      const [step, next] = await run();
      this.state = next;
      return step;
    } catch (err) {
      this.state = 'done';
      throw err;
    }
  }

  /** RFC 5802 §6: which channel binding data the client must have used, enforcing the flag rules. */
  private bindingData(flag: CbindFlag): Buffer {
    const source = this.ctx.channelBinding;
    if (this.plus) {
      if (flag.kind !== 'p') fail('malformed-request', 'channel binding required by -PLUS mechanism');
      const offered: readonly string[] = source?.types() ?? [];
      const data = offered.includes(flag.type) ? (source?.data(flag.type) ?? null) : null;
      if (!data) fail('not-authorized', 'unsupported-channel-binding-type');
      return data;
    }
    if (flag.kind === 'p') fail('malformed-request', 'channel binding requires a -PLUS mechanism');
    // RFC 5802 §6: 'y' means the client saw no -PLUS offer; if we made one, the list was tampered with.
    if (flag.kind === 'y' && this.ctx.offeredPlus && source !== null && source.types().length > 0) {
      fail('not-authorized', 'server-does-support-channel-binding');
    }
    return Buffer.alloc(0);
  }

  private async clientFirst(data: Buffer): Promise<[SaslStep, State]> {
    const first = parseClientFirst(decodeText(data));
    const cbindData = this.bindingData(first.flag);
    if (first.authzid !== null) {
      const accept = this.ctx.acceptAuthzid ?? ((authzid: string, authcid: string) => authzid === authcid);
      if (!accept(first.authzid, first.username)) throw new SaslFailure('invalid-authzid');
    }
    if ((this.opts.replayGuard ?? processReplayGuard).seen(first.nonce)) fail('not-authorized', 'nonce reused');
    const stored = await this.ctx.lookupScram(first.username, this.hash);
    const credential = stored ?? this.fakeCredential(first.username);
    const suffix = this.opts.randomNonce?.() ?? randomBytes(SERVER_NONCE_BYTES).toString('base64');
    const combinedNonce = first.nonce + suffix;
    const serverFirst = `r=${combinedNonce},s=${credential.salt.toString('base64')},i=${credential.iterations}`;
    this.exchange = {
      username: first.username,
      credential,
      known: stored !== null,
      cbindInput: Buffer.concat([Buffer.from(first.gs2Header, 'utf8'), cbindData]).toString('base64'),
      combinedNonce,
      authPrefix: `${first.bare},${serverFirst},`,
    };
    return [{ kind: 'challenge', data: Buffer.from(serverFirst, 'utf8') }, 'await-final'];
  }

  /**
   * Unknown users get a salt derived from their name so repeated probes look like a real, stable account
   * (RFC 5802 §9 notes that salts otherwise reveal which accounts exist). The keys are random, and the
   * exchange is failed explicitly at the proof check.
   */
  private fakeCredential(username: string): ScramCredential {
    const secret = this.opts.fakeSaltSecret ?? PROCESS_SECRET;
    const salt = hmac('sha256', secret, `${this.hash}\0${username}`).subarray(0, FAKE_SALT_BYTES);
    const size = HASH_BYTES[this.hash];
    return {
      salt,
      iterations: this.opts.fakeIterations ?? DEFAULT_ITERATIONS,
      storedKey: randomBytes(size),
      serverKey: randomBytes(size),
    };
  }

  private async clientFinal(data: Buffer): Promise<[SaslStep, State]> {
    const exchange = this.exchange;
    if (exchange === null) fail('malformed-request', 'unexpected SASL step');
    const final = parseClientFinal(decodeText(data));
    decodeBase64(final.channelBinding);
    // RFC 5802 §6: c= carries the gs2-header (and binding data) again, so a stripped header is detected.
    if (final.channelBinding !== exchange.cbindInput) fail('not-authorized', 'channel-bindings-dont-match');
    if (final.nonce !== exchange.combinedNonce) fail('not-authorized', 'nonce mismatch');
    const proof = decodeBase64(final.proof);
    const { credential } = exchange;
    if (proof.length !== credential.storedKey.length) fail('malformed-request', 'invalid-proof');
    // RFC 5802 §3: ClientKey = ClientProof XOR HMAC(StoredKey, AuthMessage); H(ClientKey) must equal StoredKey.
    const authMessage = exchange.authPrefix + final.withoutProof;
    const signature = hmac(this.hash, credential.storedKey, authMessage);
    const clientKey = Buffer.alloc(proof.length);
    for (let i = 0; i < proof.length; i++) clientKey[i] = (proof[i] ?? 0) ^ (signature[i] ?? 0);
    const matches = timingSafeEqual(digest(this.hash, clientKey), credential.storedKey);
    if (!matches || !exchange.known) fail('not-authorized', 'invalid-proof');
    const serverSignature = hmac(this.hash, credential.serverKey, authMessage).toString('base64');
    this.exchange = null;
    // RFC 6120 §6.3.10: the server-final-message travels as additional data with <success/>.
    return [
      { kind: 'success', data: Buffer.from(`v=${serverSignature}`, 'utf8'), username: exchange.username },
      'done',
    ];
  }
}
