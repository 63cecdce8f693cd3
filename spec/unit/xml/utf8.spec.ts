import assert from 'node:assert/strict';
import { completeEnd, decodeUtf8, resetUtf8, type Utf8State } from '../../../server/xml/utf8.js';

/** Decodes `chunks` as the framer does; returns the text and the index of the chunk that failed, if any. */
function ours(chunks: Buffer[]): { text: string; failedAt: number } {
  const st: Utf8State = { carry: null, bomPossible: true, ascii: true };
  let text = '';
  for (const [i, c] of chunks.entries()) {
    const t = decodeUtf8(st, c);
    if (t === null) return { text, failedAt: i };
    text += t;
  }
  return { text, failedAt: -1 };
}

/** The reference: a fatal TextDecoder in streaming mode. */
function reference(chunks: Buffer[]): { text: string; failedAt: number } {
  const d = new TextDecoder('utf-8', { fatal: true });
  let text = '';
  for (const [i, c] of chunks.entries()) {
    try {
      text += d.decode(c, { stream: true });
    } catch {
      return { text, failedAt: i };
    }
  }
  return { text, failedAt: -1 };
}

/** A deterministic generator, so that a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

describe('streaming UTF-8 decoding', () => {
  it('matches a fatal TextDecoder on valid text cut anywhere, byte order mark included', () => {
    const input = Buffer.from('\uFEFFab é 漢字 😀 \uFEFF end 𐍈', 'utf8');
    const whole = reference([input]);
    assert.equal(whole.text, 'ab é 漢字 😀 \uFEFF end 𐍈', 'only the leading BOM is dropped');
    for (let i = 0; i <= input.length; i++) {
      for (let j = i; j <= input.length; j++) {
        const chunks = [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
        assert.deepEqual(ours(chunks), whole, `cut at ${i} and ${j}`);
      }
    }
  });

  it('reports invalid sequences in the chunk where a fatal TextDecoder does', () => {
    const random = rng(8);
    // Mostly bytes that make up or break UTF-8 sequences, so that near misses are common.
    const pool = [0x41, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff];
    for (let n = 0; n < 20_000; n++) {
      const len = 1 + Math.floor(random() * 8);
      const bytes = Buffer.from(Array.from({ length: len }, () => pool[Math.floor(random() * pool.length)] as number));
      const chunks: Buffer[] = [];
      let at = 0;
      while (at < len) {
        const step = 1 + Math.floor(random() * 3);
        chunks.push(bytes.subarray(at, at + step));
        at += step;
      }
      assert.deepEqual(ours(chunks), reference(chunks), `bytes ${bytes.toString('hex')}, chunks ${chunks.length}`);
    }
  });

  it('holds back exactly the start of a cut sequence', () => {
    assert.equal(completeEnd(Buffer.from('abc')), 3);
    assert.equal(completeEnd(Buffer.from([0x61, 0xe6, 0xbc])), 1);
    assert.equal(completeEnd(Buffer.from([0xf0, 0x9f, 0x98])), 0);
    assert.equal(completeEnd(Buffer.from([0xe0, 0x80])), -1, 'overlong');
    assert.equal(completeEnd(Buffer.from([0xed, 0xa0])), -1, 'surrogate');
    assert.equal(completeEnd(Buffer.from([0xf4, 0x90])), -1, 'above U+10FFFF');
  });

  it('expects a byte order mark again after a reset', () => {
    const st: Utf8State = { carry: null, bomPossible: true, ascii: true };
    assert.equal(decodeUtf8(st, Buffer.from('a\uFEFF')), 'a\uFEFF');
    resetUtf8(st);
    assert.equal(decodeUtf8(st, Buffer.from([0xef, 0xbb])), '');
    assert.equal(decodeUtf8(st, Buffer.from([0xbf, 0x62])), 'b');
  });
});
