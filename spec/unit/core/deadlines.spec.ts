// Unit: the shared deadline queue behind hook handler timeouts (server/core/deadlines.ts).
import assert from 'node:assert/strict';
import { DeadlineQueue } from '../../../server/core/deadlines.js';

const later = <T>(ms: number, v: T): Promise<T> => new Promise((r) => setTimeout(() => r(v), ms));
const timeout = (): Error => new Error('timed out');

describe('DeadlineQueue', () => {
  it('settles like the promise when it is in time, and leaves nothing pending', async () => {
    const q = new DeadlineQueue(200);
    assert.equal(await q.race(later(5, 'a'), timeout), 'a');
    await assert.rejects(q.race(Promise.reject(new Error('boom')), timeout), /boom/);
    assert.equal(q.size, 0);
  });

  it('rejects with the timeout error once the time is up, and ignores a late result', async () => {
    const q = new DeadlineQueue(20);
    const started = performance.now();
    await assert.rejects(q.race(later(100, 'late'), timeout), /timed out/);
    assert.ok(performance.now() - started >= 19);
    assert.equal(q.size, 0);
  });

  it('serves many overlapping deadlines with entries settling out of order', async () => {
    const q = new DeadlineQueue(40);
    const results = await Promise.allSettled([
      q.race(later(60, 'slow'), timeout),
      q.race(later(1, 'fast'), timeout),
      q.race(later(10, 'medium'), timeout),
      q.race(new Promise<string>(() => {}), timeout),
    ]);
    assert.deepEqual(
      results.map((r) => (r.status === 'fulfilled' ? r.value : (r.reason as Error).message)),
      ['timed out', 'fast', 'medium', 'timed out'],
    );
    assert.equal(q.size, 0);
  });

  it('keeps only unsettled entries when calls finish in order', async () => {
    const q = new DeadlineQueue(1000);
    for (let i = 0; i < 3000; i++) await q.race(Promise.resolve(i), timeout);
    assert.equal(q.size, 0);
  });
});
