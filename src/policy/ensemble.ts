// Action chunking with ACT's temporal ensembling (Zhao et al., 2023): every tick the policy predicts the next k
// actions; the action executed at time t is the weighted mean of all predictions made for t, with weight
// exp(−m·i) where i = 0 is the oldest prediction. Ring buffers are allocated once.

export class TemporalEnsemble {
  /** predictions[slot] holds chunk×dim values predicted at some tick; slot = tick mod chunk. */
  private readonly predictions: Float64Array;
  private readonly weights: Float64Array;
  private filled = 0;
  private tick = 0;

  constructor(readonly chunk: number, readonly dim: number, decay: number) {
    this.predictions = new Float64Array(chunk * chunk * dim);
    this.weights = new Float64Array(chunk);
    for (let i = 0; i < chunk; i++) this.weights[i] = Math.exp(-decay * i);
  }

  reset(): void {
    this.filled = 0;
    this.tick = 0;
  }

  /** Store the chunk predicted this tick (chunk×dim, row-major) and write the blended action for this tick. */
  push(chunkValues: ArrayLike<number>, out: Float64Array): void {
    const { chunk, dim } = this;
    const base = (this.tick % chunk) * chunk * dim;
    for (let j = 0; j < chunk * dim; j++) this.predictions[base + j] = chunkValues[j];
    if (this.filled < chunk) this.filled++;

    // Prediction made `age` ticks ago (age < filled) covers this tick at its row `age`.
    // The oldest has age filled−1 and gets weight index 0.
    out.fill(0);
    let total = 0;
    for (let age = this.filled - 1; age >= 0; age--) {
      const w = this.weights[this.filled - 1 - age];
      const slot = (this.tick - age) % chunk;
      const row = (slot < 0 ? slot + chunk : slot) * chunk * dim + age * dim;
      for (let d = 0; d < dim; d++) out[d] += w * this.predictions[row + d];
      total += w;
    }
    for (let d = 0; d < dim; d++) out[d] /= total;
    this.tick++;
  }
}

/** Plays a chunk open-loop, asking for a new one every `chunk` ticks. */
export class SequentialChunks {
  private readonly current: Float64Array;
  private index: number;

  constructor(readonly chunk: number, readonly dim: number) {
    this.current = new Float64Array(chunk * dim);
    this.index = chunk;
  }

  reset(): void {
    this.index = this.chunk;
  }

  /** True when a new chunk is needed before next(). */
  get needsChunk(): boolean {
    return this.index >= this.chunk;
  }

  load(chunkValues: ArrayLike<number>): void {
    for (let j = 0; j < this.chunk * this.dim; j++) this.current[j] = chunkValues[j];
    this.index = 0;
  }

  next(out: Float64Array): void {
    const row = this.index * this.dim;
    for (let d = 0; d < this.dim; d++) out[d] = this.current[row + d];
    this.index++;
  }
}
