// Sender multiplexing (XEP-0220 §2.6.1): another local domain (a second host, a component) joins an outbound
// stream that is already authenticated to the remote domain, with a dialback request of its own, instead of a new
// TCP connection. Only on streams whose peer accepts dialback after authentication (its features offered it).
import type { DialbackKeys } from './dialback.js';
import { dialbackElement } from './dialback.js';
import { type OutboundStream, S2sFailure } from './outbound-stream.js';

export function addSender(stream: OutboundStream, local: string, keys: DialbackKeys, timeoutMs: number): Promise<void> {
  if (stream.senders.has(local)) return Promise.resolve();
  if (!stream.dialbackCapable || stream.isClosed) {
    return Promise.reject(new S2sFailure('auth', 'the stream does not take more senders'));
  }
  return new Promise<void>((resolve, reject) => {
    const done = (err?: S2sFailure) => {
      clearTimeout(timer);
      stream.resultHandlers.delete(onResult);
      stream.endHandlers.delete(onEnd);
      if (err) reject(err);
      else {
        stream.senders.add(local);
        resolve();
      }
    };
    const onResult: Parameters<OutboundStream['resultHandlers']['add']>[0] = (db) => {
      if (db.from !== stream.remote || db.to !== local || db.type === undefined) return false;
      if (db.type === 'valid') done();
      else done(new S2sFailure('auth', `dialback for ${local}: ${db.type} ${db.condition ?? ''}`.trim()));
      return true;
    };
    const onEnd = () => done(new S2sFailure('stream', 'the stream closed during dialback'));
    const timer = setTimeout(() => done(new S2sFailure('auth', `no dialback answer for ${local}`, true)), timeoutMs);
    stream.resultHandlers.add(onResult);
    stream.endHandlers.add(onEnd);
    const key = keys.generate(stream.remote, local, stream.streamId);
    stream.send(dialbackElement('result', { from: local, to: stream.remote }, key));
  });
}
