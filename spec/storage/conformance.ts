// Storage conformance suite (DESIGN §5): every driver must pass the same tests.
// `make` returns a driver over empty storage; the suite migrates and closes it around each test.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import type { AccountRecord, ScramCredential, StorageDriver } from '../../storage/api/index.js';
import { archiveConformance } from './conformance-archive.js';

export type MakeStorage = () => Promise<StorageDriver>;

export function credential(): ScramCredential {
  return { salt: randomBytes(16), iterations: 4096, storedKey: randomBytes(32), serverKey: randomBytes(32) };
}

export function scram(): AccountRecord['scram'] {
  return { sha1: credential(), sha256: credential() };
}

function assertSameScram(actual: AccountRecord['scram'], expected: AccountRecord['scram']): void {
  assert.deepEqual(Object.keys(actual).sort(), Object.keys(expected).sort());
  for (const hash of ['sha1', 'sha256'] as const) {
    const a = actual[hash];
    const e = expected[hash];
    if (!e) continue;
    assert.ok(a, `missing ${hash}`);
    assert.ok(Buffer.isBuffer(a.salt) && Buffer.isBuffer(a.storedKey) && Buffer.isBuffer(a.serverKey));
    assert.ok(a.salt.equals(e.salt), `${hash} salt`);
    assert.ok(a.storedKey.equals(e.storedKey), `${hash} storedKey`);
    assert.ok(a.serverKey.equals(e.serverKey), `${hash} serverKey`);
    assert.equal(a.iterations, e.iterations);
  }
}

export function storageConformance(name: string, make: MakeStorage): void {
  describe(`storage conformance: ${name}`, function () {
    this.timeout(60_000);
    const ctx: { s: StorageDriver } = { s: undefined as unknown as StorageDriver };

    beforeEach(async () => {
      ctx.s = await make();
      await ctx.s.migrate();
    });
    afterEach(async () => {
      await ctx.s?.close();
    });

    it('migrate is idempotent', async () => {
      await ctx.s.migrate();
      await ctx.s.migrate();
      assert.equal(await ctx.s.accounts.count('example.com'), 0);
    });

    describe('accounts', () => {
      it('creates, reads and reports existence', async () => {
        const creds = scram();
        const t0 = Date.now();
        assert.equal(await ctx.s.accounts.create('example.com', 'alice', creds), true);
        const rec = await ctx.s.accounts.get('example.com', 'alice');
        assert.ok(rec);
        assert.equal(rec.host, 'example.com');
        assert.equal(rec.username, 'alice');
        assertSameScram(rec.scram, creds);
        assert.ok(rec.createdAt instanceof Date);
        assert.ok(Math.abs(rec.createdAt.getTime() - t0) < 5_000, 'createdAt is about now');
        assert.equal(await ctx.s.accounts.exists('example.com', 'alice'), true);
        assert.equal(await ctx.s.accounts.exists('example.com', 'bob'), false);
        assert.equal(await ctx.s.accounts.exists('example.org', 'alice'), false);
        assert.equal(await ctx.s.accounts.get('example.org', 'alice'), null);
      });

      it('refuses a duplicate without changing the stored credentials', async () => {
        const first = scram();
        assert.equal(await ctx.s.accounts.create('example.com', 'alice', first), true);
        assert.equal(await ctx.s.accounts.create('example.com', 'alice', scram()), false);
        assertSameScram((await ctx.s.accounts.get('example.com', 'alice'))!.scram, first);
        // The same localpart on another host is a different account.
        assert.equal(await ctx.s.accounts.create('example.org', 'alice', scram()), true);
      });

      it('keeps only the hashes given', async () => {
        await ctx.s.accounts.create('example.com', 'alice', { sha256: credential() });
        const rec = await ctx.s.accounts.get('example.com', 'alice');
        assert.ok(rec?.scram.sha256);
        assert.equal('sha1' in rec.scram, false);
      });

      it('replaces credentials only for an existing account', async () => {
        await ctx.s.accounts.create('example.com', 'alice', scram());
        const next = { sha256: credential() };
        assert.equal(await ctx.s.accounts.setCredentials('example.com', 'alice', next), true);
        assertSameScram((await ctx.s.accounts.get('example.com', 'alice'))!.scram, next);
        assert.equal(await ctx.s.accounts.setCredentials('example.com', 'nobody', next), false);
        assert.equal(await ctx.s.accounts.exists('example.com', 'nobody'), false);
      });

      it('deletes an account once', async () => {
        await ctx.s.accounts.create('example.com', 'alice', scram());
        assert.equal(await ctx.s.accounts.delete('example.com', 'alice'), true);
        assert.equal(await ctx.s.accounts.get('example.com', 'alice'), null);
        assert.equal(await ctx.s.accounts.delete('example.com', 'alice'), false);
        // The account can be registered again afterwards.
        assert.equal(await ctx.s.accounts.create('example.com', 'alice', scram()), true);
      });

      it('lists (sorted) and counts per host', async () => {
        for (const u of ['carol', 'alice', 'bob']) await ctx.s.accounts.create('example.com', u, scram());
        await ctx.s.accounts.create('example.org', 'dave', scram());
        assert.deepEqual(await ctx.s.accounts.list('example.com'), ['alice', 'bob', 'carol']);
        assert.deepEqual(await ctx.s.accounts.list('example.org'), ['dave']);
        assert.deepEqual(await ctx.s.accounts.list('example.net'), []);
        assert.equal(await ctx.s.accounts.count('example.com'), 3);
        assert.equal(await ctx.s.accounts.count('example.net'), 0);
      });

      it('stores unicode usernames and hosts', async () => {
        const names = ['jürgen', '用户', 'ψυχή', 'emoji😀', "o'brien", 'a%b_c'];
        for (const u of names) assert.equal(await ctx.s.accounts.create('bücher.example', u, scram()), true);
        assert.deepEqual(await ctx.s.accounts.list('bücher.example'), [...names].sort());
        for (const u of names) assert.equal((await ctx.s.accounts.get('bücher.example', u))?.username, u);
        assert.equal(await ctx.s.accounts.exists('bücher.example', 'a_b_c'), false, 'no LIKE-style matching');
      });

      it('deletes all of the user’s data with the account, and nobody else’s', async () => {
        const { s } = ctx;
        for (const [host, user] of [
          ['example.com', 'alice'],
          ['example.com', 'bob'],
          ['example.org', 'alice'],
        ] as const) {
          await s.accounts.create(host, user, scram());
          for (const store of ['one', 'two']) {
            await s.keyval(store).set(host, user, { store });
            await s.map(store).set(host, user, 'k', { store });
            await s.archive(store).append(host, user, { with: 'x@example.net', value: { store } });
          }
        }
        assert.equal(await s.accounts.delete('example.com', 'alice'), true);
        for (const store of ['one', 'two']) {
          assert.equal(await s.keyval(store).get('example.com', 'alice'), null);
          assert.equal((await s.map(store).getAll('example.com', 'alice')).size, 0);
          assert.equal(await s.archive(store).count('example.com', 'alice'), 0);
          for (const [host, user] of [
            ['example.com', 'bob'],
            ['example.org', 'alice'],
          ] as const) {
            assert.deepEqual(await s.keyval(store).get(host, user), { store });
            assert.deepEqual(await s.map(store).get(host, user, 'k'), { store });
            assert.equal(await s.archive(store).count(host, user), 1);
          }
        }
        assert.equal(await s.accounts.exists('example.com', 'bob'), true);
      });

      it('createMany provisions 10,000 accounts quickly', async () => {
        const accounts = Array.from({ length: 10_000 }, (_, i) => ({ username: `user${i}`, scram: scram() }));
        const t0 = process.hrtime.bigint();
        const created = await ctx.s.accounts.createMany('bulk.example', accounts);
        const ms = Number(process.hrtime.bigint() - t0) / 1e6;
        console.log(`      createMany(10,000) on ${name}: ${ms.toFixed(0)} ms`);
        assert.equal(created, 10_000);
        assert.equal(await ctx.s.accounts.count('bulk.example'), 10_000);
        assert.equal((await ctx.s.accounts.list('bulk.example')).length, 10_000);
        const sample = accounts[4321]!;
        assertSameScram((await ctx.s.accounts.get('bulk.example', sample.username))!.scram, sample.scram);
        // Generous bound: a correctness test, not a benchmark; it only catches per-row commits.
        assert.ok(ms < 30_000, `createMany took ${ms} ms`);
      });

      it('createMany skips existing accounts and duplicates, counting only new ones', async () => {
        const original = scram();
        await ctx.s.accounts.create('example.com', 'alice', original);
        const n = await ctx.s.accounts.createMany('example.com', [
          { username: 'alice', scram: scram() },
          { username: 'bob', scram: scram() },
          { username: 'bob', scram: scram() },
          { username: 'carol', scram: scram() },
        ]);
        assert.equal(n, 2);
        assertSameScram((await ctx.s.accounts.get('example.com', 'alice'))!.scram, original);
        assert.deepEqual(await ctx.s.accounts.list('example.com'), ['alice', 'bob', 'carol']);
        assert.equal(await ctx.s.accounts.createMany('example.com', []), 0);
      });
    });

    describe('keyval', () => {
      it('round-trips JSON values and deletes on null', async () => {
        const kv = ctx.s.keyval<unknown>('prefs');
        assert.equal(await kv.get('example.com', 'alice'), null);
        const value = { a: [1, 2, { b: 'ü😀' }], n: -1.5, t: true, z: null, s: '\'"\\\n' };
        await kv.set('example.com', 'alice', value);
        assert.deepEqual(await kv.get('example.com', 'alice'), value);
        await kv.set('example.com', 'alice', 'second');
        assert.equal(await kv.get('example.com', 'alice'), 'second');
        await kv.set('example.com', 'alice', null);
        assert.equal(await kv.get('example.com', 'alice'), null);
        await kv.set('example.com', 'alice', null); // deleting nothing is fine
      });

      it('reads many users at once, leaving out those without a value and other hosts and stores', async () => {
        const kv = ctx.s.keyval<unknown>('prefs');
        const users = Array.from({ length: 1200 }, (_, i) => `user${i}`);
        for (const [i, user] of users.entries()) if (i % 3 !== 0) await kv.set('example.com', user, { i });
        await kv.set('example.com', 'zero', 0);
        await kv.set('example.org', 'user0', 'other host');
        await ctx.s.keyval<unknown>('other').set('example.com', 'user0', 'other store');
        const got = await kv.getMany('example.com', [...users, 'zero', 'nobody']);
        assert.equal(got.size, 800 + 1);
        assert.equal(got.has('user0'), false);
        assert.deepEqual(got.get('user1'), { i: 1 });
        assert.deepEqual(got.get('user1199'), { i: 1199 });
        assert.equal(got.get('zero'), 0);
        assert.equal((await kv.getMany('example.com', [])).size, 0);
      });

      it('keeps falsy values distinct from absence', async () => {
        const kv = ctx.s.keyval<unknown>('prefs');
        for (const v of [0, false, '', [], {}]) {
          await kv.set('example.com', 'alice', v);
          assert.deepEqual(await kv.get('example.com', 'alice'), v);
        }
      });

      it('has JSON semantics (Dates become strings, undefined is refused)', async () => {
        const kv = ctx.s.keyval<unknown>('prefs');
        await kv.set('example.com', 'alice', { d: new Date(0), u: undefined });
        assert.deepEqual(await kv.get('example.com', 'alice'), { d: '1970-01-01T00:00:00.000Z' });
        await assert.rejects(kv.set('example.com', 'alice', undefined));
      });

      it('returns copies, not live objects', async () => {
        const kv = ctx.s.keyval<{ n: number }>('prefs');
        const v = { n: 1 };
        await kv.set('example.com', 'alice', v);
        v.n = 2;
        const got = (await kv.get('example.com', 'alice'))!;
        assert.equal(got.n, 1);
        got.n = 3;
        assert.equal((await kv.get('example.com', 'alice'))!.n, 1);
      });

      it('isolates stores, hosts and users', async () => {
        const a = ctx.s.keyval<string>('a');
        const b = ctx.s.keyval<string>('b');
        await a.set('example.com', 'alice', 'a-alice');
        await b.set('example.com', 'alice', 'b-alice');
        await a.set('example.com', 'bob', 'a-bob');
        await a.set('example.org', 'alice', 'a-org');
        assert.equal(await a.get('example.com', 'alice'), 'a-alice');
        assert.equal(await b.get('example.com', 'alice'), 'b-alice');
        assert.equal(await a.get('example.com', 'bob'), 'a-bob');
        assert.equal(await a.get('example.org', 'alice'), 'a-org');
        assert.equal(await b.get('example.com', 'bob'), null);
        await a.set('example.com', 'alice', null);
        assert.equal(await b.get('example.com', 'alice'), 'b-alice');
      });
    });

    describe('map', () => {
      it('sets, gets, lists and removes keys', async () => {
        const m = ctx.s.map<unknown>('roster');
        assert.equal(await m.get('example.com', 'alice', 'bob@example.com'), null);
        assert.equal((await m.getAll('example.com', 'alice')).size, 0);
        await m.set('example.com', 'alice', 'bob@example.com', { name: 'Bob', groups: ['Friends'] });
        await m.set('example.com', 'alice', 'jürgen@bücher.example', { name: 'Jürgen 😀' });
        await m.set('example.com', 'alice', '%_!', 0);
        assert.deepEqual(await m.get('example.com', 'alice', 'bob@example.com'), { name: 'Bob', groups: ['Friends'] });
        const all = await m.getAll('example.com', 'alice');
        assert.deepEqual(
          new Map([...all].sort(([x], [y]) => (x < y ? -1 : 1))),
          new Map<string, unknown>([
            ['%_!', 0],
            ['bob@example.com', { name: 'Bob', groups: ['Friends'] }],
            ['jürgen@bücher.example', { name: 'Jürgen 😀' }],
          ]),
        );
        await m.set('example.com', 'alice', 'bob@example.com', { name: 'Robert' });
        assert.deepEqual(await m.get('example.com', 'alice', 'bob@example.com'), { name: 'Robert' });
        await m.set('example.com', 'alice', 'bob@example.com', null);
        assert.equal(await m.get('example.com', 'alice', 'bob@example.com'), null);
        assert.equal((await m.getAll('example.com', 'alice')).size, 2);
        assert.equal(await m.get('example.com', 'alice', '%'), null, 'keys match exactly');
      });

      it('clear removes only that user’s keys in that store', async () => {
        const m = ctx.s.map<number>('roster');
        const other = ctx.s.map<number>('other');
        await m.set('example.com', 'alice', 'k1', 1);
        await m.set('example.com', 'alice', 'k2', 2);
        await m.set('example.com', 'bob', 'k1', 3);
        await m.set('example.org', 'alice', 'k1', 4);
        await other.set('example.com', 'alice', 'k1', 5);
        await m.clear('example.com', 'alice');
        assert.equal((await m.getAll('example.com', 'alice')).size, 0);
        assert.equal(await m.get('example.com', 'bob', 'k1'), 3);
        assert.equal(await m.get('example.org', 'alice', 'k1'), 4);
        assert.equal(await other.get('example.com', 'alice', 'k1'), 5);
        await m.clear('example.com', 'nobody');
      });
    });

    archiveConformance(() => ctx.s);

    describe('concurrent writes', () => {
      it('creating the same account concurrently succeeds exactly once', async () => {
        const results = await Promise.all(
          Array.from({ length: 25 }, () => ctx.s.accounts.create('example.com', 'race', scram())),
        );
        assert.equal(results.filter(Boolean).length, 1);
        assert.equal(await ctx.s.accounts.count('example.com'), 1);
      });

      it('interleaved account, keyval and map writes all land', async () => {
        const users = Array.from({ length: 50 }, (_, i) => `u${i}`);
        await Promise.all([
          ...users.map((u) => ctx.s.accounts.create('example.com', u, scram())),
          ctx.s.accounts.createMany(
            'example.com',
            users.map((u) => ({ username: `bulk-${u}`, scram: scram() })),
          ),
          ...users.map((u) => ctx.s.keyval<string>('kv').set('example.com', u, u)),
          ...users.map((u) => ctx.s.map<string>('m').set('example.com', 'alice', u, u)),
        ]);
        assert.equal(await ctx.s.accounts.count('example.com'), 100);
        for (const u of users) assert.equal(await ctx.s.keyval<string>('kv').get('example.com', u), u);
        assert.equal((await ctx.s.map('m').getAll('example.com', 'alice')).size, 50);
      });

      it('concurrent upserts of one key leave one of the written values', async () => {
        const kv = ctx.s.keyval<number>('kv');
        await Promise.all(Array.from({ length: 30 }, (_, i) => kv.set('example.com', 'alice', i)));
        const v = await kv.get('example.com', 'alice');
        assert.ok(typeof v === 'number' && v >= 0 && v < 30);
      });
    });
  });
}
