// Fixed-rate scheduling on absolute deadlines. Accounting is pure (no clock inside) so it is tested with a fake clock.
//
// Definitions, per tick k with scheduled start s_k = origin + k·period:
// - period error: wake-up time − s_k (lateness of the wake-up);
// - deadline miss: the command was written after s_k + period (the robot saw it late);
// - overrun: the tick's own compute time exceeded the period (too slow, not merely woken late);
// - skipped periods: grid slots that passed with no tick. After a miss the next tick goes to the first grid slot
//   still in the future instead of bursting to catch up (as ros2_control does).
// - deadline storm: more than max_misses missed deadlines plus skipped periods in the last `window` ticks. Skipped
//   periods count because a freeze (a 3 s stall is one late tick and 150 skipped periods at 50 Hz) is the worst
//   storm of all, and counting ticks alone would see only one miss.

export class TickAccounting {
  readonly periodMs: number;
  private origin = 0;
  private k = 0;
  ticks = 0;
  deadlineMisses = 0;
  overruns = 0;
  skippedPeriods = 0;
  /** Wake-up time of the current tick, ms. */
  private wakeMs = 0;

  // Sliding window of recent misses for deadline-storm detection.
  private readonly window: Uint8Array;
  private windowPos = 0;
  missesInWindow = 0;
  /** Skipped periods of each of the last `window` ticks, and their sum. */
  private readonly skippedWindow: Float64Array;
  skippedInWindow = 0;

  constructor(rateHz: number, stormWindow = 100) {
    this.periodMs = 1000 / rateHz;
    this.window = new Uint8Array(stormWindow);
    this.skippedWindow = new Float64Array(stormWindow);
  }

  /** What the deadline-storm rule compares with max_misses: missed deadlines plus skipped periods, recent ticks. */
  get stormCount(): number {
    return this.missesInWindow + this.skippedInWindow;
  }

  start(nowMs: number): void {
    this.origin = nowMs;
    this.k = 0;
  }

  /** Scheduled start of the next tick, ms. */
  get nextDeadlineMs(): number {
    return this.origin + this.k * this.periodMs;
  }

  /** Call at wake-up; returns the period error (lateness) in µs. */
  beginTick(wakeMs: number): number {
    this.wakeMs = wakeMs;
    return (wakeMs - this.nextDeadlineMs) * 1000;
  }

  /** Call after the command is written; returns the compute time in µs. */
  endTick(endMs: number): number {
    const scheduled = this.nextDeadlineMs;
    const computeMs = endMs - this.wakeMs;
    const missed = endMs > scheduled + this.periodMs;
    this.ticks++;
    if (missed) this.deadlineMisses++;
    if (computeMs > this.periodMs) this.overruns++;

    // Next slot: k+1, or the first slot after endMs when we are already past it (skip, don't burst).
    let next = this.k + 1;
    const firstFuture = Math.ceil((endMs - this.origin) / this.periodMs);
    let skipped = 0;
    if (firstFuture > next) {
      skipped = firstFuture - next;
      this.skippedPeriods += skipped;
      next = firstFuture;
    }
    this.k = next;

    const pos = this.windowPos;
    this.missesInWindow += (missed ? 1 : 0) - this.window[pos];
    this.window[pos] = missed ? 1 : 0;
    this.skippedInWindow += skipped - this.skippedWindow[pos];
    this.skippedWindow[pos] = skipped;
    this.windowPos = (pos + 1) % this.window.length;
    return computeMs * 1000;
  }
}

/** Where the loop gets time and sleeps. Real time for robots, virtual time for fast data collection and tests. */
export interface LoopClock {
  readonly realtime: boolean;
  now(): number;
  /** Resolve at or just after the deadline (ms on this clock). */
  sleepUntil(deadlineMs: number): Promise<void>;
}

/**
 * Real-time clock: setTimeout for the bulk of the wait, then a synchronous spin for the last `spinUs`,
 * because Node timers wake 1 ms or more late. The spin allocates nothing (a setImmediate spin would allocate
 * an Immediate per turn); I/O that arrives during it is handled right after the tick.
 * It spins on process.hrtime.bigint(), which optimized code reads without garbage: performance.now() builds an
 * array per call (Node 20), and the thousands of reads in a 1 ms spin made a young-generation collection every
 * few ticks.
 */
export class RealtimeClock implements LoopClock {
  readonly realtime = true;
  private deadline = 0;
  private resolve: (() => void) | null = null;
  private readonly spinMs: number;
  // Bound once so the wait allocates no closures per tick.
  private readonly wake = (): void => this.finish();
  private readonly arm = (): void => this.armTimer();

  /** performance.now()'s origin on the process.hrtime.bigint() clock (the same monotonic clock), ns. */
  private readonly originNs: bigint;

  constructor(spinUs = 400) {
    this.spinMs = spinUs / 1000;
    this.originNs = hrtimeOriginOfPerformanceNow();
  }

  now(): number {
    return performance.now();
  }

  sleepUntil(deadlineMs: number): Promise<void> {
    this.deadline = deadlineMs;
    return new Promise<void>((resolve) => {
      this.resolve = resolve;
      // One event-loop turn first: I/O that arrived during the tick is handled between ticks, and the timer is
      // armed from a fresh loop clock. Armed from inside the previous wake-up (a tick with no await in it), the
      // timer could fire a second or more late, an idle process missing hundreds of periods.
      setImmediate(this.arm);
    });
  }

  private armTimer(): void {
    const remaining = this.deadline - performance.now();
    // Timers fire up to ~1 ms late: wake early by that plus the spin, then spin to the deadline.
    if (remaining > this.spinMs + 1) setTimeout(this.wake, remaining - this.spinMs - 1);
    else this.finish();
  }

  private finish(): void {
    const deadline = this.deadline;
    // libuv times from its cached loop clock, so a timer can fire early: sleep again rather than spin long.
    const remaining = deadline - performance.now();
    if (remaining > this.spinMs + 1) {
      setTimeout(this.wake, remaining - this.spinMs - 1);
      return;
    }
    const deadlineNs = this.originNs + BigInt(Math.ceil(deadline * 1e6));
    const hrtime = process.hrtime;
    while (hrtime.bigint() < deadlineNs) {
      // spin: a few hundred microseconds at most
    }
    // The two clocks' origins were matched to within a read: never resolve before the deadline on performance.now().
    while (performance.now() < deadline) {
      // a few reads at most
    }
    const r = this.resolve;
    this.resolve = null;
    if (r !== null) r();
  }
}

/** performance.now()'s zero on the process.hrtime.bigint() clock, from the tightest of a few bracketed reads. */
function hrtimeOriginOfPerformanceNow(): bigint {
  let best = 0n;
  let bestWidth = -1n;
  for (let i = 0; i < 16; i++) {
    const before = process.hrtime.bigint();
    const nowMs = performance.now();
    const after = process.hrtime.bigint();
    const width = after - before;
    if (bestWidth < 0n || width < bestWidth) {
      bestWidth = width;
      best = (before + after) / 2n - BigInt(Math.round(nowMs * 1e6));
    }
  }
  return best;
}

/** Virtual clock: sleeping jumps to the deadline. Yields to the event loop every `yieldEvery` sleeps. */
export class VirtualClock implements LoopClock {
  readonly realtime = false;
  private t = 0;
  private sleeps = 0;
  constructor(private readonly yieldEvery = 64) {}

  now(): number {
    return this.t;
  }

  advance(ms: number): void {
    this.t += ms;
  }

  sleepUntil(deadlineMs: number): Promise<void> {
    if (deadlineMs > this.t) this.t = deadlineMs;
    if (++this.sleeps % this.yieldEvery === 0) return new Promise((r) => setImmediate(r));
    return Promise.resolve();
  }
}
