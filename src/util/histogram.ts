// Fixed-size log-linear histogram of microsecond values (HdrHistogram-like, 1/16 relative precision).
// record() is O(1) and allocates nothing, so it can sit in the control tick.

const SUB_BITS = 4;
const SUB_COUNT = 1 << SUB_BITS; // 16 sub-buckets per power of two
const MAGNITUDES = 32; // values up to 2^32 µs (over an hour)
const BUCKETS = MAGNITUDES * SUB_COUNT;

export class LatencyHistogram {
  private readonly counts = new Uint32Array(BUCKETS);
  count = 0;
  max = 0;

  record(valueUs: number): void {
    // Negative values (a wake-up before the deadline) count as zero lateness.
    const v = valueUs > 0 ? Math.floor(valueUs) : 0;
    this.counts[bucketOf(v)]++;
    this.count++;
    if (valueUs > this.max) this.max = valueUs;
  }

  /** Value at quantile q in [0,1], as the upper edge of its bucket (never under-reports). */
  quantile(q: number): number {
    if (this.count === 0) return 0;
    const target = Math.max(1, Math.ceil(q * this.count));
    let seen = 0;
    for (let i = 0; i < BUCKETS; i++) {
      seen += this.counts[i];
      if (seen >= target) return Math.min(upperEdge(i), this.max);
    }
    return this.max;
  }

  reset(): void {
    this.counts.fill(0);
    this.count = 0;
    this.max = 0;
  }

  /** Add another histogram's counts to this one (a bench combining segments measured apart). */
  add(other: LatencyHistogram): void {
    for (let i = 0; i < BUCKETS; i++) this.counts[i] += other.counts[i];
    this.count += other.count;
    if (other.max > this.max) this.max = other.max;
  }

  summary(): { p50: number; p99: number; max: number; count: number } {
    return { p50: this.quantile(0.5), p99: this.quantile(0.99), max: this.max, count: this.count };
  }
}

function bucketOf(v: number): number {
  if (v < SUB_COUNT) return v; // exact for small values
  const v32 = v > 0xffffffff ? 0xffffffff : v;
  const magnitude = 31 - Math.clz32(v32); // ≥ SUB_BITS here
  const shift = magnitude - SUB_BITS;
  const sub = (v32 >>> shift) & (SUB_COUNT - 1);
  return (magnitude - SUB_BITS + 1) * SUB_COUNT + sub;
}

function upperEdge(bucket: number): number {
  if (bucket < SUB_COUNT) return bucket;
  const magnitude = Math.floor(bucket / SUB_COUNT) + SUB_BITS - 1;
  const sub = bucket % SUB_COUNT;
  const shift = magnitude - SUB_BITS;
  return ((SUB_COUNT + sub + 1) * 2 ** shift) - 1;
}
