import assert from 'node:assert/strict';
import { AuthThrottle } from '../../../server/stream/sasl/throttle.js';

describe('AuthThrottle', () => {
  let now = 0;
  const clock = () => now;
  beforeEach(() => {
    now = 0;
  });

  it('locks a key after maxFailures within the window, until the lockout ends', () => {
    const t = new AuthThrottle({ maxFailures: 3, windowMs: 60_000, lockoutMs: 300_000 }, clock);
    t.fail('1.2.3.4');
    t.fail('1.2.3.4');
    assert.equal(t.check('1.2.3.4'), true);
    t.fail('1.2.3.4');
    assert.equal(t.check('1.2.3.4'), false);
    assert.equal(t.check('5.6.7.8'), true, 'other keys unaffected');
    now = 299_999;
    assert.equal(t.check('1.2.3.4'), false);
    now = 300_000;
    assert.equal(t.check('1.2.3.4'), true);
    t.fail('1.2.3.4');
    assert.equal(t.check('1.2.3.4'), true, 'failure count restarts after a lockout');
  });

  it('forgets failures older than the window', () => {
    const t = new AuthThrottle({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000 }, clock);
    t.fail('k');
    now = 1000;
    t.fail('k');
    assert.equal(t.check('k'), true);
    now = 1500;
    t.fail('k');
    assert.equal(t.check('k'), false);
  });

  it('clears a key on success', () => {
    const t = new AuthThrottle({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000 }, clock);
    t.fail('k');
    t.succeed('k');
    t.fail('k');
    assert.equal(t.check('k'), true);
    assert.equal(t.size, 1);
  });

  it('bounds memory by evicting the least recently touched key', () => {
    const t = new AuthThrottle({ maxFailures: 2, windowMs: 1000, lockoutMs: 5000, maxEntries: 3 }, clock);
    t.fail('a');
    t.fail('b');
    t.fail('c');
    t.fail('a'); // locks a, and makes it the most recent
    t.fail('d'); // evicts b
    assert.equal(t.size, 3);
    assert.equal(t.check('a'), false);
    t.fail('b');
    assert.equal(t.check('b'), true, 'b started over after eviction');
  });

  it('rejects nonsensical options', () => {
    assert.throws(() => new AuthThrottle({ maxFailures: 0, windowMs: 1, lockoutMs: 1 }), RangeError);
  });
});
