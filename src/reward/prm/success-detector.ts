// Done from a success model, with the same hysteresis the shaper applies to progress: K consecutive answers at
// P(success) ≥ threshold set done; an answer below threshold − h clears it; answers in between, or missing
// ones, break the streak and leave the state. observe() is a few comparisons.

export class SuccessDetector {
  done = false;
  private streak = 0;

  constructor(readonly threshold: number, readonly updates: number, readonly hysteresis: number) {}

  reset(): void {
    this.done = false;
    this.streak = 0;
  }

  observe(probability: number): void {
    if (!Number.isFinite(probability)) {
      this.streak = 0;
      return;
    }
    if (probability >= this.threshold) {
      this.streak++;
      if (this.streak >= this.updates) this.done = true;
    } else {
      this.streak = 0;
      if (probability < this.threshold - this.hysteresis) this.done = false;
    }
  }
}
