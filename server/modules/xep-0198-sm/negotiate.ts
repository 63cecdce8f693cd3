// XEP-0198 §3 enabling and §5 resumption: the two nonzas that create or re-attach a stream management session.
import { randomBytes } from 'node:crypto';
import type { ModuleContext } from '../../core/module.js';
import { StreamError } from '../../errors/index.js';
import type { ClientStream } from '../../session/client-stream.js';
import type { Element } from '../../xml/element.js';
import { enabled, failed, handledCountTooHigh, isTrue, parseH, parseSeconds, resumed } from './codec.js';
import { type ManagerOptions, peekManager, StreamManager } from './manager.js';
import { disposeUnacked } from './unacked.js';

export interface SmDeps {
  ctx: ModuleContext<unknown>;
  options: ManagerOptions;
  /** Seconds a lost session is kept for resumption (the most a client may ask for). */
  resumeSeconds: number;
  /** Resumable sessions of this host by SM-ID. */
  resumable: Map<string, StreamManager>;
}

/** XEP-0198 §3: <enable/>. */
export function enable(deps: SmDeps, session: ClientStream, el: Element): void {
  // §3: not before resource binding, and at most once.
  if (!session.isBound) {
    session.sendDirect(failed('unexpected-request'));
    return;
  }
  if (peekManager(session)) {
    session.sendDirect(failed('unexpected-request'));
    session.close(new StreamError('policy-violation', 'stream management is already enabled'));
    return;
  }
  const manager = new StreamManager(session, deps.options, (els) => disposeUnacked(deps.ctx, session, els));
  if (!isTrue(el.attrs.resume)) {
    manager.start(null);
    session.sendDirect(enabled({}));
    return;
  }
  // §3: 'max' is the client's preferred maximum resumption time; the server's own limit caps it.
  const asked = parseSeconds(el.attrs.max);
  const seconds = asked === null ? deps.resumeSeconds : Math.min(asked, deps.resumeSeconds);
  // §5: the SM-ID is opaque, unguessable, and never reused while the server runs.
  const id = randomBytes(18).toString('base64url');
  deps.resumable.set(id, manager);
  manager.start({ id, seconds });
  session.sendDirect(enabled({ id, resume: true, max: seconds }));
}

/**
 * XEP-0198 §5: <resume previd=… h=…/> on a new authenticated stream, before binding. Success re-attaches the
 * former session to this transport; any failure leaves this stream free to bind a resource.
 */
export async function resume(deps: SmDeps, stream: ClientStream, el: Element): Promise<void> {
  if (stream.isBound || peekManager(stream)) {
    stream.sendDirect(failed('unexpected-request'));
    return;
  }
  const previd = el.attrs.previd;
  const h = parseH(el.attrs.h);
  if (!previd || h === null) {
    stream.sendDirect(failed('bad-request'));
    return;
  }
  const manager = findResumable(deps, stream, previd);
  if (!manager) {
    stream.sendDirect(failed('item-not-found'));
    return;
  }
  // Whatever the former transport delivered is handled first, so the 'h' we report is final.
  await manager.session.whenIdle();
  // The new connection may have dropped meanwhile: the former session then simply goes on waiting.
  if (stream.isClosed) return;
  if (findResumable(deps, stream, previd) !== manager) {
    stream.sendDirect(failed('item-not-found'));
    return;
  }
  if (manager.queue.ack(h) === null) {
    // §6: an 'h' beyond what was sent; the former session cannot be continued consistently either.
    stream.close(handledCountTooHigh(h, manager.queue.sent));
    manager.session.close(new StreamError('undefined-condition', 'resumption failed'));
    return;
  }
  manager.resumed();
  const session = manager.session;
  session.adoptTransport(stream, () => {
    session.sendDirect(resumed(previd, manager.inbound));
    // §5: what the client did not handle is sent again, in order, then the stream carries on.
    for (const stanza of manager.queue.pending()) session.sendDirect(stanza);
    manager.requestAck();
  });
  session.log.info({ unacked: manager.queue.length }, 'stream management: resumed');
  try {
    await deps.ctx.fire('c2s-resumed', { session });
  } catch (err) {
    deps.ctx.log.error({ err }, 'a c2s-resumed handler failed');
  }
}

/** The resumable session with that SM-ID of the same account; none for anybody else (nothing is revealed). */
function findResumable(deps: SmDeps, stream: ClientStream, previd: string): StreamManager | undefined {
  const manager = deps.resumable.get(previd);
  if (!manager || manager.finished || manager.session.isClosed) return undefined;
  const old = manager.session;
  if (old.username !== stream.username || old.host !== stream.host) return undefined;
  return manager;
}
