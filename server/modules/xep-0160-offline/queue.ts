// The offline message queue of one host: per-user serial storage and in-order delivery (XEP-0160 §2).
//
// Every store and every delivery of a user runs on one serial chain (KeyedSerial), which gives:
// - the quota check and the append cannot race (two senders cannot both take the last free slot);
// - two resources coming online together cannot both receive the stored messages: the second delivery finds
//   the queue already emptied by the first;
// - a message stored while a delivery runs is appended after it and delivered by a later flush, never lost.
// Live messages to an account whose queue is not known to be empty wait for a flush first (see `flushBefore`),
// so nothing overtakes the stored messages.
import type { Logger } from 'pino';
import type { ArchiveStore } from '../../../storage/api/index.js';
import type { SessionInfo } from '../../core/hooks.js';
import { KeyedSerial } from '../../core/keyed-serial.js';
import type { Element } from '../../xml/element.js';
import { decodeOffline, encodeOffline } from './codec.js';

/** Messages read per storage query while delivering; each batch is deleted once sent. */
const BATCH = 500;

export class OfflineQueue {
  private readonly serial = new KeyedSerial();
  /** Whether a user's queue may hold messages: known per user once stored to or emptied; absent means unknown. */
  private readonly pending = new Map<string, boolean>();

  constructor(
    private readonly archive: ArchiveStore<string>,
    private readonly host: string,
    private readonly maxMessages: number,
    private readonly log: Logger,
    /** Whether a stored message may still be delivered (false: it is deleted unseen, e.g. its sender is blocked). */
    private readonly accept: (user: string, message: Element) => Promise<boolean> = async () => true,
  ) {}

  /** Appends a message (already carrying its delay) unless the user's queue is full. */
  store(user: string, message: Element, sender: string): Promise<'stored' | 'full'> {
    return this.serial.run(user, async () => {
      if ((await this.archive.count(this.host, user)) >= this.maxMessages) return 'full';
      await this.archive.append(this.host, user, { with: sender, value: encodeOffline(message) });
      this.pending.set(user, true);
      return 'stored';
    });
  }

  /**
   * Sends the stored messages in order to the sessions `targets()` names (re-read before every batch, so a
   * session that went away stops the delivery and the rest stays stored), deleting each batch once sent.
   * Resolves with how many messages were delivered.
   */
  deliver(user: string, targets: () => SessionInfo[]): Promise<number> {
    return this.serial.run(user, async () => {
      if (this.pending.get(user) === false) return 0;
      let delivered = 0;
      for (;;) {
        const live = targets();
        if (live.length === 0) return delivered;
        const batch = await this.archive.find(this.host, user, { limit: BATCH });
        if (batch.length === 0) break;
        for (const item of batch) {
          const message = this.decode(user, item.id, item.value);
          if (message && (await this.accept(user, message))) for (const s of live) s.send(message);
        }
        await this.archive.delete(this.host, user, { ids: batch.map((i) => i.id) });
        delivered += batch.length;
        if (batch.length < BATCH) break;
      }
      this.pending.set(user, false);
      return delivered;
    });
  }

  /**
   * Called before a live message goes to `targets()`: what is stored goes first, to the first of them only (as
   * from presence, one resource gets the queue), so the live message cannot overtake it (RFC 6120 §10.1). This
   * matters between a resource becoming available and its 'session-deliverable' delivery. Costs nothing once the
   * queue is known to be empty and no delivery is running.
   */
  async flushBefore(user: string, targets: () => SessionInfo[]): Promise<void> {
    if (this.pending.get(user) === false && !this.serial.busy(user)) return;
    if (targets().length === 0) return;
    await this.deliver(user, () => targets().slice(0, 1));
  }

  /** The account was deleted: its stored messages went with it (AccountStore.delete). */
  forget(user: string): void {
    this.pending.delete(user);
  }

  private decode(user: string, id: string, text: string): Element | null {
    try {
      return decodeOffline(text);
    } catch (err) {
      this.log.warn({ err, user, id }, 'dropping an unreadable offline message');
      return null;
    }
  }
}
