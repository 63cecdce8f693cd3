import assert from 'node:assert/strict';
import type { SessionInfo } from '../../../server/core/hooks.js';
import { Jid } from '../../../server/jid/index.js';
import { SessionRegistry } from '../../../server/session/registry.js';

function session(full: string, available = true, priority = 0): SessionInfo {
  const jid = Jid.parse(full);
  return {
    id: full,
    kind: 'c2s',
    jid,
    username: jid.local ?? '',
    host: jid.domain,
    resource: jid.resource ?? '',
    ip: '127.0.0.1',
    presence: null,
    priority,
    available,
    state: new Map(),
    close() {},
  } as unknown as SessionInfo;
}

describe('SessionRegistry', () => {
  it('finds one, two and three resources of an account, and forgets them as they go', () => {
    const r = new SessionRegistry();
    const a = session('u@h/a');
    const b = session('u@h/b');
    const c = session('u@h/c');
    assert.equal(r.add(a), undefined);
    assert.deepEqual(r.resources('u@h'), [a]);
    assert.equal(r.get(Jid.parse('u@h/a')), a);
    assert.equal(r.get(Jid.parse('u@h/b')), undefined);
    assert.equal(r.get(Jid.parse('u@h')), undefined);
    assert.equal(r.add(b), undefined);
    assert.equal(r.add(c), undefined);
    assert.equal(r.count(), 3);
    assert.deepEqual(new Set(r.resources(Jid.parse('u@h'))), new Set([a, b, c]));
    assert.equal(r.get(Jid.parse('u@h/b')), b);
    assert.equal(r.remove(b), true);
    assert.equal(r.remove(b), false);
    assert.deepEqual(new Set(r.resources('u@h')), new Set([a, c]));
    assert.equal(r.remove(a), true);
    assert.deepEqual(r.resources('u@h'), [c]);
    assert.equal(r.get(Jid.parse('u@h/c')), c);
    assert.equal(r.remove(c), true);
    assert.deepEqual(r.resources('u@h'), []);
    assert.equal(r.count(), 0);
    assert.deepEqual([...r.all()], []);
  });

  it('replaces the session on the same full JID and returns the old one', () => {
    const r = new SessionRegistry();
    const old = session('u@h/a');
    const now = session('u@h/a');
    r.add(old);
    assert.equal(r.add(now), old);
    assert.equal(r.count(), 1);
    assert.equal(r.remove(old), false, 'the replaced session no longer removes anything');
    assert.deepEqual(r.resources('u@h'), [now]);
    const other = session('u@h/b');
    const otherToo = session('u@h/b');
    r.add(other);
    assert.equal(r.add(otherToo), other);
    assert.equal(r.count(), 2);
    assert.deepEqual(new Set(r.all()), new Set([now, otherToo]));
  });

  it('delivers to the available resources of the highest non-negative priority', () => {
    const r = new SessionRegistry();
    const low = session('u@h/low', true, 1);
    const high = session('u@h/high', true, 5);
    const away = session('u@h/away', false, 9);
    const negative = session('u@h/neg', true, -1);
    for (const s of [low, high, away, negative]) r.add(s);
    assert.deepEqual(r.deliverable('u@h'), [high]);
    r.remove(high);
    assert.deepEqual(r.deliverable('u@h'), [low]);
  });
});
