// XEP-0280 §6: an error message is eligible for carbons when it answers an eligible message. The spec notes this
// needs message tracking; this is a small, bounded memory of the eligible messages recently exchanged, keyed by
// (account, peer, message id), so that an error with the same id between the same two parties can be matched.

/** Which way the eligible message went, seen from the local account. */
export type Direction = 'sent' | 'received';

export class ErrorReplies {
  /** Insertion-ordered, so the oldest entries are the first evicted. */
  private readonly seen = new Set<string>();

  constructor(private readonly capacity = 10_000) {}

  private static key(direction: Direction, account: string, peer: string, id: string): string {
    return `${direction}\n${account}\n${peer}\n${id}`;
  }

  /** Remembers an eligible message with an id (one without an id cannot be answered recognisably). */
  remember(direction: Direction, account: string, peer: string, id: string | undefined): void {
    if (id === undefined || id === '') return;
    const key = ErrorReplies.key(direction, account, peer, id);
    this.seen.delete(key);
    this.seen.add(key);
    if (this.seen.size > this.capacity) {
      const oldest = this.seen.values().next();
      if (!oldest.done) this.seen.delete(oldest.value);
    }
  }

  /**
   * Whether an error is the answer to an eligible message: an error the account receives answers one it sent,
   * an error it sends answers one it received (RFC 6120 §8.3.1: the error keeps the original's 'id').
   */
  answers(errorDirection: Direction, account: string, peer: string, id: string | undefined): boolean {
    if (id === undefined || id === '') return false;
    const original: Direction = errorDirection === 'received' ? 'sent' : 'received';
    return this.seen.has(ErrorReplies.key(original, account, peer, id));
  }
}
