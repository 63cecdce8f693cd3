// Messages while storage lags behind: every message a client sent is delivered, none bounced or lost.
//
// In the message benchmark (docs/benchmarks.md) Switchboard lost messages that Prosody and ejabberd delivered: the
// blocklists (XEP-0191) of a thousand users were read one query at a time, and with the event loop saturated by
// the traffic of the users already served, each query waited about an event-loop turn (~14 ms), so the last of
// them waited past the 10 s hook deadline and the pool's acquire timeout. Their messages were bounced with
// remote-server-timeout or internal-server-error, and half of those bounces were lost in turn (they pass the same
// checks on the way back). The storage here models that: reads of the blocklist store are served one at a time,
// each after a fixed delay, as the single SQLite connection served them under load.
import assert from 'node:assert/strict';
import type { Element } from '../../server/xml/element.js';
import type { KeyValueStore, StorageDriver } from '../../storage/api/index.js';
import { createMemoryStorage } from '../../storage/memory/index.js';
import { RawStream } from '../helpers/raw-stream.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PAIRS = 150;
/** Per storage call of the blocklist store; PAIRS × 2 calls one at a time take 18 s, past the 10 s deadline. */
const CALL_MS = 60;

/** Every call on the named keyval stores is served one at a time, each `ms` after the previous one finished. */
function laggingStorage(inner: StorageDriver, stores: ReadonlySet<string>, ms: number): StorageDriver {
  let tail: Promise<unknown> = Promise.resolve();
  const serial = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = tail.then(() => new Promise((r) => setTimeout(r, ms))).then(fn);
    tail = run.catch(() => undefined);
    return run;
  };
  const wrap = <T>(store: KeyValueStore<T>): KeyValueStore<T> => {
    const out: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(store)) {
      if (typeof fn === 'function') out[name] = (...args: unknown[]) => serial(() => fn.apply(store, args));
    }
    return out as unknown as KeyValueStore<T>;
  };
  return new Proxy(inner, {
    get(target, prop, receiver) {
      if (prop === 'keyval')
        return <T>(name: string): KeyValueStore<T> => {
          const kv = target.keyval<T>(name);
          return stores.has(name) ? wrap(kv) : kv;
        };
      return Reflect.get(target, prop, receiver);
    },
  });
}

const isMessage = (el: Element) => el.name === 'message';

describe('messages while storage lags behind under load', function () {
  this.timeout(90_000);
  let ts: TestServer;
  const senders: RawStream[] = [];
  const receivers: RawStream[] = [];

  before(async () => {
    ts = await startTestServer({
      storage: laggingStorage(createMemoryStorage(), new Set(['blocklist']), CALL_MS),
    });
    for (let i = 0; i < 2 * PAIRS; i++) await ts.addUser(`u${i}`, 'pw');
  });

  after(async () => {
    for (const s of [...senders, ...receivers]) s.close();
    await ts?.stop();
  });

  it(`delivers the first message of each of ${PAIRS} users who just logged in, bouncing none`, async () => {
    // Log everyone in, 50 at a time, as the benchmark does; every login asks for the user's blocklist.
    const users = Array.from({ length: 2 * PAIRS }, (_, i) => i);
    const streams: RawStream[] = new Array(2 * PAIRS);
    for (let i = 0; i < users.length; i += 50) {
      await Promise.all(
        users.slice(i, i + 50).map(async (k) => {
          streams[k] = await RawStream.login(ts.port, `u${k}`, 'pw', { resource: 'r', presence: k % 2 === 1 });
        }),
      );
    }
    for (let p = 0; p < PAIRS; p++) {
      senders.push(streams[2 * p] as RawStream);
      receivers.push(streams[2 * p + 1] as RawStream);
    }
    // Each sender writes one message to its partner at once.
    senders.forEach((s, p) => {
      s.send(`<message to='u${2 * p + 1}@localhost/r' type='chat' id='m${p}'><body>hello ${p}</body></message>`);
    });
    const deadline = Date.now() + 60_000;
    const arrived = () => receivers.filter((r) => r.find(isMessage) !== undefined).length;
    const bounced = () => senders.filter((s) => s.find(isMessage) !== undefined);
    while (arrived() + bounced().length < PAIRS && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    const errors = bounced().map((s) => s.find(isMessage)?.toString().slice(0, 300));
    assert.deepEqual(errors, [], 'no message was bounced');
    assert.equal(arrived(), PAIRS, 'every message arrived');
    receivers.forEach((r, p) => {
      const m = r.find(isMessage);
      assert.equal(m?.attrs.id, `m${p}`);
      assert.equal(m?.attrs.from, `u${2 * p}@localhost/r`);
    });
  });
});
