// Shared SASL types (RFC 4422) and the mechanism registry used by stream negotiation (RFC 6120 §6).
// Mechanisms are pure state machines over bytes: no sockets, no storage handles, no logging.
import type { ScramCredential, ScramHash } from '../../../storage/api/index.js';
import { PlainMechanism } from './plain.js';
import { ScramMechanism } from './scram.js';

/** One server turn of a SASL exchange. Failures are thrown as `SaslFailure`. */
export type SaslStep =
  | { kind: 'challenge'; data: Buffer }
  /** `username` is the authcid exactly as received; the caller prepares and validates it. */
  | { kind: 'success'; data: Buffer | null; username: string };

export interface SaslMechanism {
  readonly name: string;
  /** RFC 6120 §6.4.2: `initial` is the initial response, `null` when the client sent none. */
  start(initial: Buffer | null): Promise<SaslStep>;
  step(response: Buffer): Promise<SaslStep>;
}

export type ChannelBindingType = 'tls-exporter' | 'tls-server-end-point';

/** Channel binding data taken from the TLS socket (RFC 5056, RFC 5929, RFC 9266). */
export interface ChannelBindingSource {
  types(): ChannelBindingType[];
  data(type: string): Buffer | null;
}

export interface SaslContext {
  lookupScram(username: string, hash: ScramHash): Promise<ScramCredential | null>;
  /** null when not on TLS. */
  channelBinding: ChannelBindingSource | null;
  /** TLS in use. */
  secure: boolean;
  /** Whether -PLUS mechanisms were advertised on this stream (RFC 5802 §6 'y' flag check). */
  offeredPlus: boolean;
  /**
   * RFC 6120 §6.3.8: decides whether an authzid the client supplied names the authenticated identity itself
   * (clients send either the bare localpart or the bare JID). Defaults to exact equality with the authcid.
   */
  acceptAuthzid?(authzid: string, authcid: string): boolean;
}

/** Remembers client nonces so a replayed client-first-message is refused. */
export interface NonceReplayGuard {
  /** Records the nonce and reports whether it had already been seen. */
  seen(nonce: string): boolean;
}

/** Process-level knobs; all optional so production code can call `createMechanism(name, ctx)`. */
export interface MechanismOptions {
  /** SCRAM server nonce suffix (RFC 5802 §5.1); injectable so tests reproduce the RFC exchanges. */
  randomNonce?: () => string;
  /** Replay guard for client nonces; defaults to one shared by the whole process. */
  replayGuard?: NonceReplayGuard;
  /** Key for the fake salts answered for unknown users; defaults to a random per-process secret. */
  fakeSaltSecret?: Buffer;
  /** Iteration count advertised for unknown users; should match what real accounts use. */
  fakeIterations?: number;
  /** RFC 8265 §4.2 OpaqueString preparation for PLAIN passwords; defaults to its mapping rules only. */
  preparePassword?: (password: string) => string;
}

/** Strongest first: channel binding defeats MITM on the TLS layer, then SHA-256 over SHA-1, PLAIN last. */
export const MECHANISM_PREFERENCE = [
  'SCRAM-SHA-256-PLUS',
  'SCRAM-SHA-1-PLUS',
  'SCRAM-SHA-256',
  'SCRAM-SHA-1',
  'PLAIN',
] as const;

export type MechanismName = (typeof MECHANISM_PREFERENCE)[number];

const SCRAM_VARIANTS: Record<Exclude<MechanismName, 'PLAIN'>, { hash: ScramHash; plus: boolean }> = {
  'SCRAM-SHA-256-PLUS': { hash: 'sha256', plus: true },
  'SCRAM-SHA-1-PLUS': { hash: 'sha1', plus: true },
  'SCRAM-SHA-256': { hash: 'sha256', plus: false },
  'SCRAM-SHA-1': { hash: 'sha1', plus: false },
};

function isMechanismName(name: string): name is MechanismName {
  return (MECHANISM_PREFERENCE as readonly string[]).includes(name);
}

/**
 * Builds a fresh single-use mechanism instance, or null when the name is unknown or cannot run on this stream
 * (a -PLUS mechanism without channel binding data); the caller answers `invalid-mechanism` (RFC 6120 §6.5.5).
 * PLAIN on an unencrypted stream throws `encryption-required` (RFC 6120 §6.5.3, RFC 4616 §6).
 */
export function createMechanism(name: string, ctx: SaslContext, opts: MechanismOptions = {}): SaslMechanism | null {
  if (!isMechanismName(name)) return null;
  if (name === 'PLAIN') return new PlainMechanism(ctx, opts);
  const variant = SCRAM_VARIANTS[name];
  if (variant.plus && (ctx.channelBinding === null || ctx.channelBinding.types().length === 0)) return null;
  return new ScramMechanism(name, variant.hash, variant.plus, ctx, opts);
}

/**
 * The `<mechanisms/>` list for a stream (RFC 6120 §6.4.1), strongest first. PLAIN only over TLS
 * (RFC 6120 §13.8); -PLUS only when the TLS layer yields a binding type (RFC 5802 §6).
 */
export function availableMechanisms(opts: {
  secure: boolean;
  channelBindings: string[];
  allowPlain: boolean;
  enabled?: string[];
}): string[] {
  return MECHANISM_PREFERENCE.filter((name) => {
    if (opts.enabled && !opts.enabled.includes(name)) return false;
    if (name === 'PLAIN') return opts.secure && opts.allowPlain;
    if (name.endsWith('-PLUS')) return opts.secure && opts.channelBindings.length > 0;
    return true;
  });
}
