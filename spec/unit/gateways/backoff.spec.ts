import assert from 'node:assert/strict';
import { Backoff } from '../../../gateways/core/backoff.js';

describe('gateways/core Backoff', () => {
  const opts = { initialMs: 100, maxMs: 1000, stableMs: 5000 };

  it('doubles the delay per attempt up to the cap, with equal jitter', () => {
    const low = new Backoff(opts, () => 0);
    assert.deepEqual(
      [1, 2, 3, 4, 5, 6].map(() => low.failed()),
      [50, 100, 200, 400, 500, 500],
    );
    const high = new Backoff(opts, () => 1);
    assert.deepEqual(
      [1, 2, 3, 4, 5].map(() => high.failed()),
      [100, 200, 400, 800, 1000],
    );
  });

  it('keeps growing after a short-lived connection, resets after a stable one', () => {
    let now = 0;
    const b = new Backoff(
      opts,
      () => 1,
      () => now,
    );
    b.failed();
    b.failed();
    b.connected();
    now += 1000;
    assert.equal(b.failed(), 400, 'a connection shorter than stableMs does not reset');
    b.connected();
    now += 5000;
    assert.equal(b.failed(), 100, 'a stable connection resets the attempts');
  });

  it('reset() forgets the history', () => {
    const b = new Backoff(opts, () => 1);
    b.failed();
    b.failed();
    b.reset();
    assert.equal(b.attempts, 0);
    assert.equal(b.failed(), 100);
  });

  it('never overflows for many attempts', () => {
    const b = new Backoff(opts, () => 1);
    for (let i = 0; i < 2000; i++) b.failed();
    assert.equal(b.failed(), 1000);
  });
});
