// Running mean and variance (Welford), for reward normalization and RND's observation and return statistics.
// push() is O(1) (O(dim) for vectors) and allocates nothing, so it can sit in the control tick.
//
// The variance is the population variance (divide by n), as RND's RunningMeanStd and gym's normalizers use.

export class RunningMoments {
  count = 0;
  mean = 0;
  private m2 = 0;

  push(x: number): void {
    this.count++;
    const d = x - this.mean;
    this.mean += d / this.count;
    this.m2 += d * (x - this.mean);
  }

  /** Population variance; 0 before any sample. */
  get variance(): number {
    return this.count > 0 ? this.m2 / this.count : 0;
  }

  get std(): number {
    return Math.sqrt(this.variance);
  }

  reset(): void {
    this.count = 0;
    this.mean = 0;
    this.m2 = 0;
  }
}

/** Per-dimension running moments of a vector (one shared count). */
export class RunningMomentsVector {
  readonly dim: number;
  count = 0;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(dim: number) {
    this.dim = dim;
    this.mean = new Float64Array(dim);
    this.m2 = new Float64Array(dim);
  }

  push(x: ArrayLike<number>): void {
    this.count++;
    const n = this.count;
    for (let i = 0; i < this.dim; i++) {
      const d = x[i] - this.mean[i];
      this.mean[i] += d / n;
      this.m2[i] += d * (x[i] - this.mean[i]);
    }
  }

  /** Population variance of dimension i; 0 before any sample. */
  variance(i: number): number {
    return this.count > 0 ? this.m2[i] / this.count : 0;
  }

  reset(): void {
    this.count = 0;
    this.mean.fill(0);
    this.m2.fill(0);
  }
}
