// Conversions between API values and the portable column types (text, bigint) used by every table.
import type { AccountRecord, ScramCredential, ScramHash } from '../api/index.js';

const HASHES: readonly ScramHash[] = ['sha1', 'sha256'];

interface StoredCredential {
  salt: string;
  iterations: number;
  storedKey: string;
  serverKey: string;
}

export function encodeScram(scram: AccountRecord['scram']): string {
  const out: Partial<Record<ScramHash, StoredCredential>> = {};
  for (const hash of HASHES) {
    const c = scram[hash];
    if (!c) continue;
    out[hash] = {
      salt: c.salt.toString('base64'),
      iterations: c.iterations,
      storedKey: c.storedKey.toString('base64'),
      serverKey: c.serverKey.toString('base64'),
    };
  }
  return JSON.stringify(out);
}

export function decodeScram(text: string): AccountRecord['scram'] {
  const parsed = JSON.parse(text) as Partial<Record<string, StoredCredential>>;
  const out: AccountRecord['scram'] = {};
  for (const hash of HASHES) {
    const c = parsed[hash];
    if (!c) continue;
    const cred: ScramCredential = {
      salt: Buffer.from(c.salt, 'base64'),
      iterations: c.iterations,
      storedKey: Buffer.from(c.storedKey, 'base64'),
      serverKey: Buffer.from(c.serverKey, 'base64'),
    };
    out[hash] = cred;
  }
  return out;
}

/** JSON text for a value column; refuses values JSON cannot represent rather than storing a broken row. */
export function encodeValue(value: unknown): string {
  const text = JSON.stringify(value);
  if (text === undefined) throw new TypeError('storage: value is not JSON-serialisable');
  return text;
}

export function decodeValue<T>(text: string): T {
  return JSON.parse(text) as T;
}

/** pg returns bigint columns as strings (they may exceed 2^53); our values (ms, ids) never do. */
export function toNumber(v: unknown): number {
  return typeof v === 'number' ? v : Number(v);
}

/**
 * Parses an archive id. Ids are opaque to clients, so anything that is not one of ours yields null and the
 * caller treats it as matching nothing instead of letting malformed input reach SQL.
 */
export function parseId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

/** Search text is stored lower-cased so matching is case-insensitive beyond ASCII on every backend. */
export function foldText(text: string): string {
  return text.toLowerCase();
}

export const LIKE_ESCAPE = '!';

/** A LIKE pattern matching `needle` as a literal substring. */
export function likeContains(needle: string): string {
  return `%${foldText(needle).replace(/[!%_]/g, (c) => LIKE_ESCAPE + c)}%`;
}

/** Splits work into slices so no statement exceeds the backend's bound-parameter limit. */
export function chunk<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}
