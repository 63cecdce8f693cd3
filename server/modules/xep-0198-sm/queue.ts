// XEP-0198 §4: the stanzas sent to a client and not yet acknowledged, with the sequence number of the last one
// acknowledged. Sequence numbers wrap at 2^32, so everything here is modular.
import { addH, diffH } from './codec.js';

export class UnackedQueue<T> {
  private items: T[] = [];
  /** Index of the oldest unacknowledged item in `items` (acknowledged ones are dropped in batches). */
  private head = 0;

  /** @param acked the 'h' to start from: 0 when stream management is enabled (tests start near 2^32). */
  constructor(public acked = 0) {}

  get length(): number {
    return this.items.length - this.head;
  }

  /** Sequence number of the last stanza sent: the 'h' of a client that handled everything. */
  get sent(): number {
    return addH(this.acked, this.length);
  }

  push(item: T): void {
    this.items.push(item);
  }

  /**
   * Applies an acknowledgement of `h` (an <a/>, or the 'h' of <resume/>): drops what it covers and returns how
   * many, or null when it acknowledges more than was sent (XEP-0198 §6), leaving the queue as it was.
   */
  ack(h: number): number | null {
    const n = diffH(h, this.acked);
    if (n > this.length) return null;
    this.head += n;
    this.acked = h;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return n;
  }

  /** The unacknowledged items, oldest first. */
  pending(): T[] {
    return this.items.slice(this.head);
  }

  /** Removes and returns every unacknowledged item, oldest first (the session is ending). */
  takeAll(): T[] {
    const rest = this.pending();
    this.acked = this.sent;
    this.items = [];
    this.head = 0;
    return rest;
  }
}
