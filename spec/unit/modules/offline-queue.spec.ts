// Unit: the offline queue's ordering and concurrency guarantees (server/modules/xep-0160-offline/queue.ts),
// over the in-memory storage driver and fake sessions.
import assert from 'node:assert/strict';
import pino from 'pino';
import type { SessionInfo } from '../../../server/core/hooks.js';
import { KeyedSerial } from '../../../server/core/keyed-serial.js';
import { OfflineQueue } from '../../../server/modules/xep-0160-offline/queue.js';
import { type Element, xml } from '../../../server/xml/element.js';
import type { ArchiveStore } from '../../../storage/api/index.js';
import { createMemoryStorage } from '../../../storage/memory/index.js';

/** Just what the queue touches of a session: send. */
function fakeSession(name: string): SessionInfo & { got: string[] } {
  const got: string[] = [];
  return {
    got,
    send: (el: Element) => got.push(el.getChildText('body') ?? ''),
    resource: name,
  } as unknown as SessionInfo & {
    got: string[];
  };
}

const message = (body: string) => xml('message', { to: 'bob@localhost', type: 'chat' }, xml('body', null, body));

describe('OfflineQueue', () => {
  let archive: ArchiveStore<string>;
  let queue: OfflineQueue;

  beforeEach(() => {
    archive = createMemoryStorage().archive<string>('offline');
    queue = new OfflineQueue(archive, 'localhost', 5, pino({ level: 'silent' }));
  });

  it('delivers in order and empties the queue', async () => {
    for (let i = 0; i < 5; i++) assert.equal(await queue.store('bob', message(`m${i}`), 'alice@localhost'), 'stored');
    const s = fakeSession('a');
    assert.equal(await queue.deliver('bob', () => [s]), 5);
    assert.deepEqual(s.got, ['m0', 'm1', 'm2', 'm3', 'm4']);
    assert.equal(await archive.count('localhost', 'bob'), 0);
  });

  it('refuses beyond the quota, also when the stores race', async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => queue.store('bob', message(`m${i}`), 'a@x')));
    assert.deepEqual(results, ['stored', 'stored', 'stored', 'stored', 'stored', 'full', 'full', 'full']);
    assert.equal(await archive.count('localhost', 'bob'), 5);
  });

  it('gives the messages to one of two resources coming online at once, never to both', async () => {
    for (let i = 0; i < 3; i++) await queue.store('bob', message(`m${i}`), 'a@x');
    const a = fakeSession('a');
    const b = fakeSession('b');
    const [na, nb] = await Promise.all([queue.deliver('bob', () => [a]), queue.deliver('bob', () => [b])]);
    assert.equal(na + nb, 3);
    assert.deepEqual([...a.got, ...b.got], ['m0', 'm1', 'm2']);
  });

  it('keeps a message stored during a delivery, and a live message waits for the stored ones', async () => {
    await queue.store('bob', message('m0'), 'a@x');
    const s = fakeSession('a');
    const delivering = queue.deliver('bob', () => [s]);
    const storing = queue.store('bob', message('m1'), 'a@x');
    // A live message: it may only be sent once flushBefore resolves.
    const live = queue.flushBefore('bob', () => [s]).then(() => s.send(message('live')));
    await Promise.all([delivering, storing, live]);
    assert.deepEqual(s.got, ['m0', 'm1', 'live']);
    assert.equal(await archive.count('localhost', 'bob'), 0);
  });

  it('flushes before a live message to one of its targets only', async () => {
    await queue.store('bob', message('m0'), 'a@x');
    const a = fakeSession('a');
    const b = fakeSession('b');
    await queue.flushBefore('bob', () => [a, b]);
    assert.deepEqual([a.got, b.got], [['m0'], []]);
  });

  it('leaves the rest stored when the session goes away', async () => {
    for (let i = 0; i < 3; i++) await queue.store('bob', message(`m${i}`), 'a@x');
    assert.equal(await queue.deliver('bob', () => []), 0);
    assert.equal(await archive.count('localhost', 'bob'), 3);
  });

  it('skips the storage once the queue is known to be empty', async () => {
    const s = fakeSession('a');
    await queue.deliver('bob', () => [s]);
    let reads = 0;
    const find = archive.find.bind(archive);
    archive.find = (...args) => {
      reads++;
      return find(...args);
    };
    await queue.flushBefore('bob', () => [s]);
    await queue.deliver('bob', () => [s]);
    assert.equal(reads, 0);
  });

  it('deletes unseen what the accept filter refuses (a sender blocked since)', async () => {
    const filtered = new OfflineQueue(archive, 'localhost', 5, pino({ level: 'silent' }), async (user, m) => {
      assert.equal(user, 'bob');
      return m.getChildText('body') !== 'spam';
    });
    for (const body of ['a', 'spam', 'b']) await filtered.store('bob', message(body), 'x@y');
    const s = fakeSession('a');
    assert.equal(await filtered.deliver('bob', () => [s]), 3);
    assert.deepEqual(s.got, ['a', 'b']);
    assert.equal(await archive.count('localhost', 'bob'), 0);
  });

  it('drops an unreadable stored item and delivers the rest', async () => {
    await archive.append('localhost', 'bob', { with: 'a@x', value: '<message' });
    await queue.store('bob', message('ok'), 'a@x');
    const s = fakeSession('a');
    assert.equal(await queue.deliver('bob', () => [s]), 2);
    assert.deepEqual(s.got, ['ok']);
  });
});

describe('KeyedSerial', () => {
  it('runs tasks of one key in call order and other keys concurrently', async () => {
    const serial = new KeyedSerial();
    const log: string[] = [];
    const task = (name: string, ms: number) => () =>
      new Promise<string>((resolve) =>
        setTimeout(() => {
          log.push(name);
          resolve(name);
        }, ms),
      );
    const p = [serial.run('a', task('a1', 30)), serial.run('a', task('a2', 1)), serial.run('b', task('b1', 5))];
    assert.equal(serial.busy('a'), true);
    await Promise.all(p);
    assert.deepEqual(log, ['b1', 'a1', 'a2']);
    await new Promise((r) => setImmediate(r));
    assert.equal(serial.busy('a'), false);
  });

  it('runs the next task after a failure and hands the failure to its caller', async () => {
    const serial = new KeyedSerial();
    const failed = serial.run('a', () => Promise.reject(new Error('boom')));
    const next = serial.run('a', () => Promise.resolve(42));
    await assert.rejects(failed, /boom/);
    assert.equal(await next, 42);
  });
});
