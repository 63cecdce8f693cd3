// Unit: the benchmark's statistics and report helpers (scripts/bench/stats.ts, report.ts).
import assert from 'node:assert/strict';
import { BEGIN, END, mergeDocument } from '../../../scripts/bench/report.js';
import { percentile, percentileSorted, SampleBuffer, summarize } from '../../../scripts/bench/stats.js';

describe('bench statistics', () => {
  it('computes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i); // 100 … 1, unsorted on purpose
    assert.equal(percentile(values, 50), 50);
    assert.equal(percentile(values, 99), 99);
    assert.equal(percentile(values, 100), 100);
    assert.equal(percentile(values, 0), 1);
    assert.equal(percentile([7], 99), 7);
    assert.ok(Number.isNaN(percentile([], 50)));
    assert.equal(percentileSorted([1, 2, 3, 4], 75), 3);
  });

  it('summarizes runs as median, min and max, leaving failed runs (NaN) out', () => {
    assert.deepEqual(summarize([3, 1, 2]), { median: 2, min: 1, max: 3, runs: [3, 1, 2] });
    assert.equal(summarize([4, 1, 3, 2]).median, 2.5);
    assert.equal(summarize([Number.NaN, 5]).median, 5);
    assert.ok(Number.isNaN(summarize([]).median));
  });

  it('collects samples beyond its initial size', () => {
    const b = new SampleBuffer(2);
    for (const v of [5, 3, 9, 1, 7]) b.push(v);
    assert.equal(b.length, 5);
    assert.deepEqual([...b.sorted()], [1, 3, 5, 7, 9]);
  });
});

describe('bench report document', () => {
  it('replaces only the generated section and keeps hand-written text around it', () => {
    const old = `# Benchmarks\n\nIntro.\n\n${BEGIN}\nold table\n${END}\n\n## Analysis\n\nKept.\n`;
    const merged = mergeDocument(old, `${BEGIN}\nnew table\n${END}`);
    assert.equal(merged, `# Benchmarks\n\nIntro.\n\n${BEGIN}\nnew table\n${END}\n\n## Analysis\n\nKept.\n`);
    assert.ok(mergeDocument(undefined, 'S').startsWith('# Benchmarks'));
  });
});
