// Small seeded PRNG for the simulator: same seed, same numbers, on every machine. The sim never uses Math.random.
// mulberry32 for the stream, seeded through splitmix32 so that nearby seeds (1, 2, 3...) give unrelated streams.

/** splitmix32 finaliser: spreads a 32-bit integer over all bits. */
export function mixSeed32(seed: number): number {
  let z = (seed | 0) + 0x9e3779b9;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
  return (z ^ (z >>> 16)) >>> 0;
}

export class SeededRng {
  private state = 0;
  /** Second normal deviate of the last Box-Muller pair, or NaN when none is cached. */
  private spareNormal = Number.NaN;

  constructor(seed: number) {
    this.reseed(seed);
  }

  /** Restart the stream; `stream` separates independent streams drawn from one episode seed. */
  reseed(seed: number, stream = 0): void {
    // Seeds may be any finite number (e.g. 2**40): fold the high bits in rather than dropping them.
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.state = mixSeed32(lo ^ mixSeed32(hi ^ mixSeed32(stream)));
    this.spareNormal = Number.NaN;
  }

  /** Uniform in [0, 1) with 32 bits of resolution (mulberry32). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Uniform in [min, max). */
  uniform(min: number, max: number): number {
    return min + (max - min) * this.next();
  }

  /** Integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** Standard normal deviate (Box-Muller; caches the pair's second value so no call allocates). */
  normal(): number {
    if (this.spareNormal === this.spareNormal) {
      const v = this.spareNormal;
      this.spareNormal = Number.NaN;
      return v;
    }
    const u1 = 1 - this.next(); // (0, 1]: log stays finite
    const u2 = this.next();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spareNormal = r * Math.sin(2 * Math.PI * u2);
    return r * Math.cos(2 * Math.PI * u2);
  }
}
