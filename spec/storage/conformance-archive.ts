// Archive part of the storage conformance suite (see conformance.ts).
import assert from 'node:assert/strict';
import type { ArchiveItem, ArchiveStore, StorageDriver } from '../../storage/api/index.js';

const H = 'example.com';
const BASE = Date.UTC(2024, 0, 1);

interface Msg {
  i: number;
  body?: string;
}

/** Appends n items one second apart, alternating two peers; returns their ids. */
async function fill(a: ArchiveStore<Msg>, n: number, user = 'alice', host = H): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    ids.push(
      await a.append(host, user, {
        with: i % 2 === 0 ? 'even@example.net' : 'odd@example.net',
        when: new Date(BASE + i * 1000),
        value: { i },
      }),
    );
  }
  return ids;
}

const nums = (items: ArchiveItem<Msg>[]): number[] => items.map((x) => x.value.i);
const range = (from: number, to: number): number[] => Array.from({ length: to - from }, (_, k) => from + k);

export function archiveConformance(driver: () => StorageDriver): void {
  describe('archive', () => {
    let a: ArchiveStore<Msg>;
    beforeEach(() => {
      a = driver().archive<Msg>('mam');
    });

    it('append returns increasing numeric string ids; find returns items in id order', async () => {
      const t0 = Date.now();
      const id1 = await a.append(H, 'alice', { with: 'bob@example.com', value: { i: 1, body: 'héllo 😀' } });
      const id2 = await a.append(H, 'alice', { with: '', value: { i: 2 }, when: new Date(BASE) });
      assert.match(id1, /^[0-9]+$/);
      assert.ok(BigInt(id2) > BigInt(id1));
      const items = await a.find(H, 'alice');
      assert.equal(items.length, 2);
      const [first, second] = items as [ArchiveItem<Msg>, ArchiveItem<Msg>];
      assert.deepEqual(
        { id: first.id, with: first.with, value: first.value },
        { id: id1, with: 'bob@example.com', value: { i: 1, body: 'héllo 😀' } },
      );
      assert.ok(first.when instanceof Date && Math.abs(first.when.getTime() - t0) < 5_000, 'when defaults to now');
      assert.deepEqual(second, { id: id2, with: '', when: new Date(BASE), value: { i: 2 } });
      assert.deepEqual(await a.find(H, 'nobody'), []);
    });

    it('reverse, limit, and exclusive after/before bounds', async () => {
      const ids = await fill(a, 10);
      assert.deepEqual(nums(await a.find(H, 'alice', { reverse: true })), range(0, 10).reverse());
      assert.deepEqual(nums(await a.find(H, 'alice', { limit: 3 })), [0, 1, 2]);
      assert.deepEqual(nums(await a.find(H, 'alice', { limit: 3, reverse: true })), [9, 8, 7]);
      assert.deepEqual(await a.find(H, 'alice', { limit: 0 }), []);
      assert.deepEqual(nums(await a.find(H, 'alice', { after: ids[3] })), range(4, 10));
      assert.deepEqual(nums(await a.find(H, 'alice', { before: ids[3] })), [0, 1, 2]);
      assert.deepEqual(nums(await a.find(H, 'alice', { after: ids[2], before: ids[6] })), [3, 4, 5]);
      assert.deepEqual(nums(await a.find(H, 'alice', { before: ids[6], reverse: true, limit: 2 })), [5, 4]);
      assert.deepEqual(await a.find(H, 'alice', { after: ids[9] }), []);
      await assert.rejects(a.find(H, 'alice', { limit: -1 }), RangeError);
    });

    it('ids that are not ours match nothing', async () => {
      await fill(a, 3);
      for (const bad of ['', 'abc', '-1', '1.5', '0x10', ' 1', '99999999999999999999'])
        assert.deepEqual(await a.find(H, 'alice', { after: bad }), [], `after=${JSON.stringify(bad)}`);
      assert.deepEqual(nums(await a.find(H, 'alice', { before: '9007199254740991' })), [0, 1, 2]);
    });

    it('pages through 1,000 items forward and backward, each exactly once', async () => {
      await fill(a, 1000);
      const forward: number[] = [];
      let after: string | undefined;
      for (;;) {
        const page = await a.find(H, 'alice', { after, limit: 37 });
        if (page.length === 0) break;
        forward.push(...nums(page));
        after = page[page.length - 1]!.id;
      }
      assert.deepEqual(forward, range(0, 1000));

      const backward: number[] = [];
      let before: string | undefined;
      for (;;) {
        const page = await a.find(H, 'alice', { before, limit: 41, reverse: true });
        if (page.length === 0) break;
        backward.push(...nums(page));
        before = page[page.length - 1]!.id;
      }
      assert.deepEqual(backward, range(0, 1000).reverse());

      // Filtered paging: only the `with` matches, still in order and complete.
      const evens: number[] = [];
      after = undefined;
      for (;;) {
        const page = await a.find(H, 'alice', { with: 'even@example.net', after, limit: 50 });
        if (page.length === 0) break;
        evens.push(...nums(page));
        after = page[page.length - 1]!.id;
      }
      assert.deepEqual(
        evens,
        range(0, 1000).filter((i) => i % 2 === 0),
      );
      assert.equal(await a.count(H, 'alice'), 1000);
    });

    it('filters by with and by inclusive start/end', async () => {
      await fill(a, 10);
      assert.deepEqual(nums(await a.find(H, 'alice', { with: 'odd@example.net' })), [1, 3, 5, 7, 9]);
      assert.deepEqual(await a.find(H, 'alice', { with: 'ODD@example.net' }), [], 'with is matched exactly');
      const at = (i: number): Date => new Date(BASE + i * 1000);
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(7) })), [7, 8, 9]);
      assert.deepEqual(nums(await a.find(H, 'alice', { end: at(2) })), [0, 1, 2]);
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(3), end: at(6) })), [3, 4, 5, 6]);
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(3), end: at(6), with: 'even@example.net' })), [4, 6]);
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(3), end: at(6), reverse: true, limit: 2 })), [6, 5]);
      assert.equal(await a.count(H, 'alice', { start: at(3), end: at(6) }), 4);
      assert.equal(await a.count(H, 'alice', { with: 'even@example.net', end: at(4) }), 3);
    });

    it('finds a time window far from the paging position, in both directions', async function () {
      this.timeout(120_000);
      // More items than a driver might examine in a first bounded pass, so both strategies are exercised.
      await fill(a, 1500);
      const at = (i: number): Date => new Date(BASE + i * 1000);
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(1400), limit: 10 })), range(1400, 1410));
      assert.deepEqual(nums(await a.find(H, 'alice', { end: at(50), limit: 5, reverse: true })), [50, 49, 48, 47, 46]);
      assert.deepEqual(
        nums(await a.find(H, 'alice', { start: at(1200), end: at(1203), limit: 10 })),
        range(1200, 1204),
      );
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(10), end: at(1490), limit: 3 })), [10, 11, 12]);
      // Paging a window to its end, forward and backward.
      for (const reverse of [false, true]) {
        const seen: number[] = [];
        let cursor: string | undefined;
        for (;;) {
          const q = { start: at(1300), end: at(1420), limit: 16, reverse };
          const page = await a.find(H, 'alice', reverse ? { ...q, before: cursor } : { ...q, after: cursor });
          if (page.length === 0) break;
          seen.push(...nums(page));
          cursor = page[page.length - 1]!.id;
        }
        assert.deepEqual(seen, reverse ? range(1300, 1421).reverse() : range(1300, 1421));
      }
      assert.deepEqual(nums(await a.find(H, 'alice', { start: at(1499), with: 'odd@example.net', limit: 10 })), [1499]);
      assert.deepEqual(await a.find(H, 'alice', { start: at(1500), limit: 10 }), []);
    });

    it('text search is a case-insensitive literal substring match', async () => {
      const texts = ['Hello World', 'ÄPFEL und Birnen', '100% sure', '100 percent', 'snake_case', 'snakeXcase', 'wow!'];
      for (const [i, text] of texts.entries())
        await a.append(H, 'alice', { with: 'x@example.net', value: { i }, text });
      await a.append(H, 'alice', { with: 'x@example.net', value: { i: 99 } }); // no text: never matches
      const search = async (text: string): Promise<number[]> => nums(await a.find(H, 'alice', { text }));
      assert.deepEqual(await search('hello'), [0]);
      assert.deepEqual(await search('O WOR'), [0]);
      assert.deepEqual(await search('äpfel'), [1], 'non-ASCII case folding');
      assert.deepEqual(await search('Äpfel UND'), [1]);
      assert.deepEqual(await search('100%'), [2], '% is literal');
      assert.deepEqual(await search('e_c'), [4], '_ is literal');
      assert.deepEqual(await search('!'), [6], 'the escape character is literal');
      assert.deepEqual(await search('nothing'), []);
      assert.deepEqual(await search(''), range(0, 7), 'empty text matches every item that has text');
      assert.equal(await a.count(H, 'alice', { text: '100' }), 2);
      assert.deepEqual(nums(await a.find(H, 'alice', { text: 'snake', reverse: true, limit: 1 })), [5]);
    });

    it('isolates stores, hosts and users', async () => {
      const other = driver().archive<Msg>('offline');
      await a.append(H, 'alice', { with: '', value: { i: 1 } });
      await a.append(H, 'bob', { with: '', value: { i: 2 } });
      await a.append('example.org', 'alice', { with: '', value: { i: 3 } });
      await other.append(H, 'alice', { with: '', value: { i: 4 } });
      assert.deepEqual(nums(await a.find(H, 'alice')), [1]);
      assert.deepEqual(nums(await a.find(H, 'bob')), [2]);
      assert.deepEqual(nums(await a.find('example.org', 'alice')), [3]);
      assert.deepEqual(nums(await other.find(H, 'alice')), [4]);
      assert.equal(await other.delete(H, 'alice'), 1);
      assert.equal(await a.count(H, 'alice'), 1);
    });

    it('deletes by ids, by time, by with, and everything', async () => {
      const ids = await fill(a, 10);
      const bobIds = await fill(a, 2, 'bob');
      // Another user's ids and malformed ids are ignored.
      assert.equal(await a.delete(H, 'alice', { ids: [ids[0]!, ids[5]!, bobIds[0]!, 'junk'] }), 2);
      assert.equal(await a.delete(H, 'alice', { ids: [] }), 0);
      assert.deepEqual(nums(await a.find(H, 'alice')), [1, 2, 3, 4, 6, 7, 8, 9]);
      assert.equal(await a.delete(H, 'alice', { before: new Date(BASE + 3000) }), 2, 'before is exclusive');
      assert.deepEqual(nums(await a.find(H, 'alice')), [3, 4, 6, 7, 8, 9]);
      assert.equal(await a.delete(H, 'alice', { with: 'even@example.net', before: new Date(BASE + 8000) }), 2);
      assert.deepEqual(nums(await a.find(H, 'alice')), [3, 7, 8, 9]);
      assert.equal(await a.delete(H, 'alice', { with: 'odd@example.net', ids: [ids[8]!, ids[9]!] }), 1);
      assert.deepEqual(nums(await a.find(H, 'alice')), [3, 7, 8]);
      assert.equal(await a.delete(H, 'alice'), 3);
      assert.equal(await a.count(H, 'alice'), 0);
      assert.equal(await a.count(H, 'bob'), 2);
    });

    it('deletes a long id list', async () => {
      const ids = await fill(a, 1200);
      assert.equal(await a.delete(H, 'alice', { ids: ids.filter((_, i) => i % 3 !== 0) }), 800);
      assert.equal(await a.count(H, 'alice'), 400);
    });

    it('agrees with a reference model on random queries over out-of-order times', async function () {
      this.timeout(120_000);
      // Deterministic pseudo-random numbers (a 32-bit LCG), so a failure is reproducible.
      let seed = 12345;
      const rnd = (n: number): number => {
        seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
        return seed % n;
      };
      const peers = ['a@example.net', 'b@example.net', 'c@example.net'];
      const model: { id: string; with: string; when: number; text: string | undefined; i: number }[] = [];
      for (let i = 0; i < 2500; i++) {
        // Mostly rising times, as in a live archive, with one item in ten back-dated or post-dated anywhere.
        const when = BASE + (rnd(10) === 0 ? rnd(2500) : i) * 1000;
        const w = peers[rnd(3)]!;
        const text = rnd(4) === 0 ? undefined : `msg ${i % 7} ${w}`;
        const id = await a.append(H, 'alice', { with: w, when: new Date(when), value: { i }, text });
        model.push({ id, with: w, when, text: text?.toLowerCase(), i });
      }
      for (let k = 0; k < 150; k++) {
        const q: Parameters<ArchiveStore<Msg>['find']>[2] = { limit: 1 + rnd(60), reverse: rnd(2) === 0 };
        if (rnd(2)) q.start = new Date(BASE + rnd(2500) * 1000);
        if (rnd(2)) q.end = new Date((q.start?.getTime() ?? BASE) + rnd(rnd(2) ? 2500 : 50) * 1000);
        if (rnd(3) === 0) q.with = peers[rnd(3)];
        if (rnd(4) === 0) q.text = `MSG ${rnd(7)}`;
        if (rnd(3) === 0) q.after = model[rnd(2500)]!.id;
        if (rnd(3) === 0) q.before = model[rnd(2500)]!.id;
        let expected = model.filter(
          (m) =>
            (q.start === undefined || m.when >= q.start.getTime()) &&
            (q.end === undefined || m.when <= q.end.getTime()) &&
            (q.with === undefined || m.with === q.with) &&
            (q.text === undefined || (m.text?.includes(q.text.toLowerCase()) ?? false)) &&
            (q.after === undefined || BigInt(m.id) > BigInt(q.after)) &&
            (q.before === undefined || BigInt(m.id) < BigInt(q.before)),
        );
        if (q.reverse) expected = expected.reverse();
        expected = expected.slice(0, q.limit);
        assert.deepEqual(
          nums(await a.find(H, 'alice', q)),
          expected.map((m) => m.i),
          JSON.stringify(q),
        );
      }
    });

    it('never reuses the id of a deleted item', async () => {
      const [first] = await fill(a, 3);
      const last = (await a.find(H, 'alice', { reverse: true, limit: 1 }))[0]!.id;
      await a.delete(H, 'alice');
      const next = await a.append(H, 'alice', { with: '', value: { i: 0 } });
      assert.ok(BigInt(next) > BigInt(last) && BigInt(next) > BigInt(first!));
    });

    it('expire removes every user’s old items on that host only', async () => {
      const other = driver().archive<Msg>('offline');
      await fill(a, 5, 'alice');
      await fill(a, 5, 'bob');
      await fill(a, 5, 'alice', 'example.org');
      await fill(other, 5, 'alice');
      assert.equal(await a.expire(H, new Date(BASE + 2000)), 4, 'strictly older than the cut-off');
      assert.deepEqual(nums(await a.find(H, 'alice')), [2, 3, 4]);
      assert.deepEqual(nums(await a.find(H, 'bob')), [2, 3, 4]);
      assert.equal(await a.count('example.org', 'alice'), 5);
      assert.equal(await other.count(H, 'alice'), 5);
      assert.equal(await a.expire(H, new Date(BASE)), 0);
    });

    it('concurrent appends get distinct ids and all land', async () => {
      const ids = await Promise.all(
        Array.from({ length: 200 }, (_, i) =>
          a.append(H, i % 2 ? 'alice' : 'bob', { with: 'x@example.net', value: { i } }),
        ),
      );
      assert.equal(new Set(ids).size, 200);
      assert.equal((await a.count(H, 'alice')) + (await a.count(H, 'bob')), 200);
      const found = await a.find(H, 'alice');
      const sorted = [...found].sort((x, y) => (BigInt(x.id) < BigInt(y.id) ? -1 : 1));
      assert.deepEqual(found, sorted);
    });
  });
}
