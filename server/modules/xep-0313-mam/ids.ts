// Archive ids as clients see them. XEP-0313 §3 requires them unpredictable and XEP-0359 §6 forbids them to
// reveal anything (such as the size of the archive), while the store numbers its items with one increasing
// integer. So the client-facing id is that integer encrypted with a per-host secret: one AES block (a keyed
// pseudo-random permutation), base64url. It is unique and stable like the integer (XEP-0313 §6.2), and decrypting
// it gives the store id back, so RSM paging stays a keyset range on the store's index.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const BLOCK = 16;
/** base64url of one 16-byte block, without padding. */
const ENCODED = /^[A-Za-z0-9_-]{22}$/;

export class ArchiveIds {
  constructor(private readonly key: Buffer) {
    if (key.length !== 16) throw new RangeError('archive id key must be 16 bytes (AES-128)');
  }

  static newKey(): Buffer {
    return randomBytes(16);
  }

  /** The client-facing id of a store id (the decimal string of a non-negative integer). */
  encode(storeId: string): string {
    const block = Buffer.alloc(BLOCK);
    block.writeBigUInt64BE(BigInt(storeId), 0);
    // The second half stays zero: decoding checks it, so an id that was not made here is recognised.
    const cipher = createCipheriv('aes-128-ecb', this.key, null);
    cipher.setAutoPadding(false);
    return Buffer.concat([cipher.update(block), cipher.final()]).toString('base64url');
  }

  /** The store id behind a client-facing id, or null when the id was not made with this key. */
  decode(id: string): string | null {
    if (!ENCODED.test(id)) return null;
    const raw = Buffer.from(id, 'base64url');
    if (raw.length !== BLOCK) return null;
    const decipher = createDecipheriv('aes-128-ecb', this.key, null);
    decipher.setAutoPadding(false);
    const block = Buffer.concat([decipher.update(raw), decipher.final()]);
    if (block.readBigUInt64BE(8) !== 0n) return null;
    return block.readBigUInt64BE(0).toString();
  }
}
