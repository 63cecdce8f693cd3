// Public surface of the SASL layer used by stream negotiation (RFC 6120 §6).
export {
  DEFAULT_ITERATIONS,
  type DeriveOptions,
  deriveAll,
  deriveScram,
  endPointHash,
  releaseChannelBinding,
  SCRAM_HASHES,
  tlsChannelBinding,
  verifyPassword,
} from './credentials.js';
export {
  availableMechanisms,
  type ChannelBindingSource,
  type ChannelBindingType,
  createMechanism,
  MECHANISM_PREFERENCE,
  type MechanismName,
  type MechanismOptions,
  type NonceReplayGuard,
  type SaslContext,
  type SaslMechanism,
  type SaslStep,
} from './mechanism.js';
export { mapOpaqueString, PlainMechanism } from './plain.js';
export { NonceReplayCache, ScramMechanism } from './scram.js';
export { AuthThrottle, type AuthThrottleOptions } from './throttle.js';
