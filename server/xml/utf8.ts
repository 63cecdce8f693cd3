// Streaming UTF-8 decoding for the framer (RFC 6120 §11.6): what a fatal TextDecoder in streaming mode gives,
// without its per-stream native ICU converter. The state lives in the caller (one framer per stream).
import { isAscii, isUtf8 } from 'node:buffer';

/** A UTF-8 byte order mark, skipped at the start of a stream as a TextDecoder does (WHATWG Encoding §6). */
const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

export interface Utf8State {
  /** The start of a multibyte sequence cut by a chunk boundary, or null. */
  carry: Buffer | null;
  /** Nothing decoded yet since the start or a reset: a byte order mark may still come. */
  bomPossible: boolean;
  /** Set by decodeUtf8: every character of the last result is ASCII (string offsets are byte offsets). */
  ascii: boolean;
}

export function resetUtf8(state: Utf8State): void {
  state.carry = null;
  state.bomPossible = true;
}

/**
 * Where the complete UTF-8 sequences of `b` end: `b.length`, or the start of a trailing sequence that later
 * bytes may complete; -1 when that trailing part can never become valid (RFC 3629 §4: no overlong forms, no
 * surrogates, nothing above U+10FFFF), so that the fault shows as soon as a fatal decoder would report it.
 */
export function completeEnd(b: Uint8Array): number {
  const n = b.length;
  for (let i = n - 1; i >= 0 && i >= n - 3; i--) {
    const c = b[i] as number;
    if ((c & 0xc0) === 0x80) continue; // a continuation byte: its lead is further back
    const need =
      c < 0x80 ? 1 : c >= 0xc2 && c <= 0xdf ? 2 : c >= 0xe0 && c <= 0xef ? 3 : c >= 0xf0 && c <= 0xf4 ? 4 : 0;
    if (need === 0 || i + need <= n) return n; // complete, or invalid whatever follows: isUtf8 decides
    if (i + 1 < n) {
      const c1 = b[i + 1] as number;
      const lo = c === 0xe0 ? 0xa0 : c === 0xf0 ? 0x90 : 0x80;
      const hi = c === 0xed ? 0x9f : c === 0xf4 ? 0x8f : 0xbf;
      if (c1 < lo || c1 > hi) return -1;
    }
    return i;
  }
  return n;
}

/**
 * Decodes the next chunk of a stream: the text of its complete sequences ('' when there is none yet), or null
 * when the bytes are not UTF-8 (invalid, overlong or surrogate sequences). Sets `state.ascii`.
 */
export function decodeUtf8(state: Utf8State, chunk: Buffer): string | null {
  let bytes = chunk;
  if (state.carry !== null) {
    bytes = Buffer.concat([state.carry, chunk]);
    state.carry = null;
  }
  if (state.bomPossible) {
    if (bytes.length < BOM.length && BOM.subarray(0, bytes.length).equals(bytes)) {
      state.carry = bytes.length === 0 ? null : Buffer.from(bytes);
      state.ascii = true;
      return '';
    }
    state.bomPossible = false;
    if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) bytes = bytes.subarray(BOM.length);
  }
  if (isAscii(bytes)) {
    state.ascii = true;
    return bytes.toString('latin1');
  }
  state.ascii = false;
  const end = completeEnd(bytes);
  if (end < 0 || !isUtf8(end === bytes.length ? bytes : bytes.subarray(0, end))) return null;
  if (end < bytes.length) state.carry = Buffer.from(bytes.subarray(end));
  return bytes.toString('utf8', 0, end);
}
