// What a driver's conformance run needs from the legacy network: a "peer" account on that network that the
// suite talks to through the driver under test (DESIGN §8: a test whose peer is absent skips loudly).
import type { LegacyId, LegacyPresence } from '../core/driver.js';

/** A message the peer received from the driver's user. */
export interface PeerMessage {
  /** The sender as the peer sees it (informational; drivers differ in how much of the address they expose). */
  readonly from?: string;
  readonly body: string;
}

export interface LegacyPeer {
  /**
   * Starts or connects the peer (mocha `before`). Return false when the legacy network is not available: the
   * suite then skips with a message, or fails when REQUIRE_PEERS=1 (DESIGN §8).
   */
  start(): Promise<boolean>;
  stop(): Promise<void>;
  /** The peer's own address in the driver's canonical form: what sendMessage() targets and sink.message() names. */
  readonly id: LegacyId;
  /**
   * A valid registration form for a fresh test user of the driver (each call may return a new identity, so
   * tests do not collide on the legacy network, e.g. a new IRC nick).
   */
  validForm(): Record<string, string>;
  /** Forms the driver's validateRegistration() must reject (the framework checks required fields before). */
  readonly invalidForms: readonly Record<string, string>[];
  /**
   * Legacy ids for the address codec round trip, in canonical form. Include the network's awkward cases:
   * characters XEP-0106 escapes (`@ / : ' " & < > \` and inner spaces) where the network allows them.
   */
  readonly sampleIds: readonly LegacyId[];
  /** User input that codec.parse() must reject (returns null). */
  readonly invalidAddresses: readonly string[];
  /** Sends `body` from the peer to the legacy account that `form` registered (and that is logged in). */
  send(form: Record<string, string>, body: string): Promise<void>;
  /** Resolves with the next message the peer receives, or rejects after timeoutMs. */
  receive(timeoutMs: number): Promise<PeerMessage>;
  /** Optional: changes the peer's presence so the suite can check upstream presence mapping. */
  setPresence?(p: LegacyPresence): Promise<void>;
  /** Time the suite allows for a login; default 10 s. */
  readonly loginTimeoutMs?: number;
}
