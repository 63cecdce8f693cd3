// Small statistics helpers for the benchmark: percentiles of samples and the median/min/max of repeated runs.

/** Nearest-rank percentile (p in 0..100) of unsorted samples; NaN when there are none. */
export function percentile(samples: ArrayLike<number>, p: number): number {
  const n = samples.length;
  if (n === 0) return Number.NaN;
  const sorted = Float64Array.from(samples).sort();
  return percentileSorted(sorted, p);
}

/** Nearest-rank percentile of samples already sorted ascending. */
export function percentileSorted(sorted: ArrayLike<number>, p: number): number {
  const n = sorted.length;
  if (n === 0) return Number.NaN;
  if (p <= 0) return sorted[0] as number;
  if (p >= 100) return sorted[n - 1] as number;
  const rank = Math.ceil((p / 100) * n);
  return sorted[Math.max(0, rank - 1)] as number;
}

/** Median, minimum and maximum of the figures of repeated runs (NaN entries are runs that failed). */
export interface Summary {
  median: number;
  min: number;
  max: number;
  runs: number[];
}

export function summarize(runs: number[]): Summary {
  const ok = runs.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (ok.length === 0) return { median: Number.NaN, min: Number.NaN, max: Number.NaN, runs };
  const mid = ok.length >> 1;
  const median = ok.length % 2 === 1 ? (ok[mid] as number) : ((ok[mid - 1] as number) + (ok[mid] as number)) / 2;
  return { median, min: ok[0] as number, max: ok[ok.length - 1] as number, runs };
}

/** Collects latency samples in a growable typed array (no per-sample allocation). */
export class SampleBuffer {
  private data: Float64Array;
  length = 0;

  constructor(initial = 65536) {
    this.data = new Float64Array(initial);
  }

  push(v: number): void {
    if (this.length === this.data.length) {
      const next = new Float64Array(this.data.length * 2);
      next.set(this.data);
      this.data = next;
    }
    this.data[this.length++] = v;
  }

  /** The samples sorted ascending (a copy). */
  sorted(): Float64Array {
    return this.data.slice(0, this.length).sort();
  }
}
