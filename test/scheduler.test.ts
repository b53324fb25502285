import assert from 'node:assert/strict';
import { test } from 'node:test';
import { LatencyHistogram } from '../src/util/histogram.js';
import { TickAccounting } from '../src/control/scheduler.js';

/** Drive the accounting with a fake clock: each tick wakes at `late` ms after its slot and computes `compute` ms. */
function simulate(rateHz: number, ticks: { late: number; compute: number }[]) {
  const acc = new TickAccounting(rateHz, 10);
  acc.start(1000);
  const starts: number[] = [];
  for (const t of ticks) {
    const wake = Math.max(acc.nextDeadlineMs + t.late, starts.length ? starts[starts.length - 1] : 0);
    starts.push(acc.nextDeadlineMs);
    acc.beginTick(wake);
    acc.endTick(wake + t.compute);
  }
  return { acc, starts };
}

test('on-time ticks follow the absolute grid with no misses', () => {
  const { acc, starts } = simulate(100, Array.from({ length: 5 }, () => ({ late: 0.1, compute: 1 })));
  assert.deepEqual(starts, [1000, 1010, 1020, 1030, 1040]);
  assert.equal(acc.deadlineMisses, 0);
  assert.equal(acc.skippedPeriods, 0);
  assert.equal(acc.overruns, 0);
});

test('a long tick skips the periods it ran over instead of bursting', () => {
  // 100 Hz; the second tick computes 35 ms: slots at 1020, 1030, 1040 pass; next slot is 1050.
  const { acc, starts } = simulate(100, [{ late: 0, compute: 1 }, { late: 0, compute: 35 }, { late: 0, compute: 1 }, { late: 0, compute: 1 }]);
  assert.deepEqual(starts, [1000, 1010, 1050, 1060]);
  assert.equal(acc.overruns, 1);
  assert.equal(acc.deadlineMisses, 1);
  assert.equal(acc.skippedPeriods, 3);
});

test('a late wake-up is a deadline miss but not an overrun', () => {
  const { acc } = simulate(100, [{ late: 0, compute: 1 }, { late: 9.5, compute: 1 }]);
  assert.equal(acc.deadlineMisses, 1);
  assert.equal(acc.overruns, 0);
  assert.equal(acc.skippedPeriods, 1, 'ended at 1020.5, after slot 1020 began: that slot is skipped');
});

test('period error is reported in µs', () => {
  const acc = new TickAccounting(500);
  acc.start(0);
  assert.equal(acc.beginTick(0.25), 250);
  assert.equal(acc.endTick(0.75), 500);
});

test('the miss window counts only recent ticks (deadline storm detection)', () => {
  const ticks = [
    ...Array.from({ length: 5 }, () => ({ late: 0, compute: 15 })), // 5 misses at 100 Hz
    ...Array.from({ length: 10 }, () => ({ late: 0, compute: 1 })),
  ];
  const { acc } = simulate(100, ticks.slice(0, 5));
  assert.equal(acc.missesInWindow, 5);
  const after = simulate(100, ticks).acc;
  assert.equal(after.deadlineMisses, 5);
  assert.equal(after.missesInWindow, 0, 'window of 10 has slid past the misses');
});

test('histogram quantiles are within 1/16 and never under-report', () => {
  const h = new LatencyHistogram();
  for (let v = 1; v <= 10000; v++) h.record(v);
  for (const [q, exact] of [[0.5, 5000], [0.99, 9900], [1, 10000]] as const) {
    const got = h.quantile(q);
    assert.ok(got >= exact && got <= exact * (1 + 1 / 16), `q${q}: ${got} vs ${exact}`);
  }
  assert.equal(h.max, 10000);
  h.record(-5);
  assert.equal(h.count, 10001);
  h.reset();
  assert.equal(h.quantile(0.5), 0);
});

test('a freeze counts its skipped periods toward the deadline storm, not just its one late tick', () => {
  // 50 Hz, window 100: 20 good ticks, then one tick that ends 3 s late (the loop froze), then good ticks again.
  const acc = new TickAccounting(50, 100);
  acc.start(0);
  const tick = (computeMs: number) => {
    const wake = acc.nextDeadlineMs;
    acc.beginTick(wake);
    acc.endTick(wake + computeMs);
  };
  for (let i = 0; i < 20; i++) tick(1);
  tick(3000);
  assert.equal(acc.deadlineMisses, 1);
  assert.equal(acc.skippedPeriods, 149, 'slots 21 to 169 passed with no tick (the tick began in slot 20, ended at slot 170)');
  assert.equal(acc.missesInWindow, 1);
  assert.equal(acc.stormCount, 150, 'one miss and 149 skipped periods');
  for (let i = 0; i < 99; i++) tick(1);
  assert.equal(acc.stormCount, 150, 'still within the last 100 ticks');
  tick(1);
  assert.equal(acc.stormCount, 0, 'the window has slid past the freeze');
});

test('RealtimeClock sleeps without making garbage: its spin causes no run of garbage collections', async () => {
  // performance.now() allocates per call; a spin on it made a young-generation collection every few ticks.
  const { PerformanceObserver } = await import('node:perf_hooks');
  const { RealtimeClock } = await import('../src/control/scheduler.js');
  let collections = 0;
  const observer = new PerformanceObserver((list) => { collections += list.getEntries().length; });
  observer.observe({ entryTypes: ['gc'] });
  const clock = new RealtimeClock(1500);
  let deadline = clock.now();
  for (let i = 0; i < 100; i++) await clock.sleepUntil((deadline += 2));
  await new Promise((r) => setTimeout(r, 10));
  const before = collections;
  for (let i = 0; i < 500; i++) await clock.sleepUntil((deadline += 2));
  await new Promise((r) => setTimeout(r, 10));
  observer.disconnect();
  assert.ok(collections - before <= 10, `${collections - before} garbage collections in 500 sleeps`);
});
