// Outgoing flood protection: RFC 1459 §8.10 describes the server side ("a client may send one message every
// two seconds" after a burst), and servers disconnect clients that exceed their budget ("Excess Flood"). A token
// bucket on our side keeps every line within the server's limits, in order, and bounds what may wait.

export interface FloodOptions {
  /** Lines that may go out back to back (bucket size). */
  readonly burst: number;
  /** Lines per second once the burst is spent (refill rate). */
  readonly perSecond: number;
  /** Lines that may wait; beyond that, enqueue() refuses (backpressure instead of unbounded memory). */
  readonly maxQueued: number;
}

export const DEFAULT_FLOOD: FloodOptions = { burst: 5, perSecond: 2, maxQueued: 5000 };

/**
 * A FIFO of lines released at the bucket's pace. `urgent` lines (PONG) skip the queue and the bucket: a
 * keepalive answer held behind a long backlog would get us disconnected for a ping timeout.
 */
export class LineQueue {
  private tokens: number;
  private last = Date.now();
  private readonly queue: { line: string; done?: (err?: Error) => void }[] = [];
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(
    private readonly opts: FloodOptions,
    private readonly write: (line: string) => void,
  ) {
    this.tokens = opts.burst;
  }

  get length(): number {
    return this.queue.length;
  }

  /** Queues a line; returns false when the queue is full or closed. `done` runs once the line is written, or
   * with an error if the queue is closed first. */
  enqueue(line: string, done?: (err?: Error) => void): boolean {
    if (this.closed || this.queue.length >= this.opts.maxQueued) return false;
    this.queue.push(done ? { line, done } : { line });
    this.pump();
    return true;
  }

  urgent(line: string): void {
    if (!this.closed) this.write(line);
  }

  /** Stops releasing lines; queued lines are dropped and their callbacks get an error. */
  close(): void {
    this.closed = true;
    const dropped = this.queue.splice(0);
    for (const q of dropped) q.done?.(new Error('IRC connection closed before the line was sent'));
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private refill(): void {
    const now = Date.now();
    this.tokens = Math.min(this.opts.burst, this.tokens + ((now - this.last) / 1000) * this.opts.perSecond);
    this.last = now;
  }

  private pump(): void {
    if (this.timer || this.closed) return;
    this.refill();
    while (this.queue.length > 0 && this.tokens >= 1) {
      const next = this.queue.shift()!;
      this.tokens -= 1;
      this.write(next.line);
      next.done?.();
      if (this.closed) return;
    }
    if (this.queue.length === 0) return;
    const wait = Math.max(1, Math.ceil(((1 - this.tokens) / this.opts.perSecond) * 1000));
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.pump();
    }, wait);
  }
}
