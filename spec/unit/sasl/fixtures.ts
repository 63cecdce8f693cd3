// Shared fixtures for the SASL unit specs: an in-memory account table and a fake channel binding source.
import assert from 'node:assert/strict';
import { type SaslCondition, SaslFailure } from '../../../server/errors/index.js';
import { deriveAll } from '../../../server/stream/sasl/credentials.js';
import type { ChannelBindingSource, SaslContext, SaslStep } from '../../../server/stream/sasl/mechanism.js';
import type { ScramCredential, ScramHash } from '../../../storage/api/index.js';

export const EXPORTER_DATA = Buffer.alloc(32, 0xa5);
export const END_POINT_DATA = Buffer.alloc(32, 0x5a);

export function fakeBinding(
  types: ('tls-exporter' | 'tls-server-end-point')[] = ['tls-exporter', 'tls-server-end-point'],
): ChannelBindingSource {
  return {
    types: () => types,
    data: (type) => {
      if (!(types as string[]).includes(type)) return null;
      return type === 'tls-exporter' ? EXPORTER_DATA : END_POINT_DATA;
    },
  };
}

export type Accounts = Map<string, Partial<Record<ScramHash, ScramCredential>>>;

/** Low iteration count keeps the specs fast; the RFC vectors use their own 4096. */
export function accountsWith(users: Record<string, string>, iterations = 64): Accounts {
  const map: Accounts = new Map();
  for (const [name, password] of Object.entries(users)) map.set(name, deriveAll(password, { iterations }));
  return map;
}

export function context(accounts: Accounts, overrides: Partial<SaslContext> = {}): SaslContext {
  return {
    lookupScram: async (username, hash) => accounts.get(username)?.[hash] ?? null,
    channelBinding: null,
    secure: false,
    offeredPlus: false,
    ...overrides,
  };
}

export function text(step: SaslStep): string {
  assert.equal(step.kind, 'challenge');
  return step.data.toString('utf8');
}

export async function rejectsWith(
  promise: Promise<unknown>,
  condition: SaslCondition,
  message?: string,
): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof SaslFailure, `expected SaslFailure, got ${String(err)}`);
    assert.equal(err.condition, condition, message ?? err.message);
    return true;
  });
}
