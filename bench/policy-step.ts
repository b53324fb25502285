// bench/policy-step: the control loop's policy step and tick compute time at 500 Hz on the simulated robot,
// and garbage collections during 10,000 ticks, beside two baselines measured in the same run:
//   - the same ONNX model called by a plain loop of session.run (no scheduler, no safety, no transport), paced
//     at the same rate in segments that alternate with the loop's (--segments, default 4; each segment's ratio
//     is printed too, and their median);
//   - wake-up lateness of two C loops at the same rate: one that sleeps on clock_nanosleep only (what the OS gives
//     any process), and one that wakes the way the loop's RealtimeClock does (sleep until spin_us + 1 ms before the
//     deadline, then spin), so the loop's lateness has a like-for-like baseline.
// Prints one JSON object. A loop that faults (a deadline storm, say) ends the bench with the fault's error code
// and exit status instead of numbers; so does a loop that has not finished in three times its expected duration.
// Usage: node --expose-gc dist/bench/policy-step.js [--ticks N] [--rate HZ] [--segments K] [--config FILE]
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import { loadConfig } from '../src/config/load.js';
import { StriatumError } from '../src/errors.js';
import { LatencyHistogram } from '../src/util/histogram.js';
import { RealtimeClock } from '../src/control/scheduler.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { benchArgs } from './bench-args.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const values = benchArgs(import.meta.url, { ticks: { type: 'string' }, rate: { type: 'string' }, config: { type: 'string' }, segments: { type: 'string' } });
const TICKS = Number(values.ticks ?? 10000);
const RATE = Number(values.rate ?? 500);
const configPath = values.config ?? join(ROOT, 'examples/sim.yaml');

type Gc = { start: number; kind: number };
const gcs: Gc[] = [];
const obs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) gcs.push({ start: e.startTime, kind: (e as unknown as { detail?: { kind: number } }).detail?.kind ?? 0 });
});
obs.observe({ entryTypes: ['gc'] });
const GC_KIND: Record<number, string> = { 1: 'minor', 2: 'major', 4: 'incremental', 8: 'weakcb' };
/** GCs that started inside any of the windows [from, to]. */
const gcSummary = (...windows: readonly (readonly [number, number])[]) => {
  const inWindow = gcs.filter((g) => windows.some(([from, to]) => g.start >= from && g.start <= to));
  const byKind: Record<string, number> = {};
  for (const g of inWindow) byKind[GC_KIND[g.kind] ?? String(g.kind)] = (byKind[GC_KIND[g.kind] ?? String(g.kind)] ?? 0) + 1;
  return { total: inWindow.length, by_kind: byKind };
};

/**
 * The same ONNX model called by a plain loop of session.run, no scheduler, no safety, no transport. Its paced
 * segments alternate with the control loop's, so a machine whose load drifts during the run biases neither side.
 */
class PlainBaseline {
  readonly paced = new LatencyHistogram();
  private readonly pacedWindows: [number, number][] = [];
  private readonly clock: RealtimeClock;

  private constructor(private readonly session: ort.InferenceSession, private readonly feeds: Record<string, ort.Tensor>, spinUs: number) {
    this.clock = new RealtimeClock(spinUs);
  }

  static async open(modelPath: string, spinUs: number): Promise<PlainBaseline> {
    const session = await ort.InferenceSession.create(modelPath, { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all', extra: { session: { intra_op: { allow_spinning: '0' } } } });
    const shape = session.inputMetadata[0].isTensor ? session.inputMetadata[0].shape : [];
    const obsDim = Number(shape[shape.length - 1]);
    const input = new ort.Tensor('float32', new Float32Array(obsDim), [1, obsDim]);
    const feeds = { [session.inputNames[0]]: input };
    for (let i = 0; i < 200; i++) await session.run(feeds);
    return new PlainBaseline(session, feeds, spinUs);
  }

  /**
   * `ticks` calls paced at the loop's rate with the loop's clock: what session.run costs when the CPU and
   * onnxruntime's threads have gone idle between calls, as they do in a control loop.
   */
  async pacedSegment(ticks: number, into: LatencyHistogram): Promise<void> {
    const clock = this.clock;
    const period = 1000 / RATE;
    let deadline = clock.now();
    for (let i = 0; i < 100; i++) {
      deadline += period;
      await clock.sleepUntil(deadline);
      await this.session.run(this.feeds);
    }
    global.gc?.();
    deadline = clock.now();
    const from = performance.now();
    for (let i = 0; i < ticks; i++) {
      deadline += period;
      await clock.sleepUntil(deadline);
      const s = performance.now();
      await this.session.run(this.feeds);
      into.record((performance.now() - s) * 1000);
    }
    this.paced.add(into);
    this.pacedWindows.push([from, performance.now()]);
  }

  /** Back-to-back calls: faster, because caches and onnxruntime's threads stay hot. */
  async backToBack(ticks: number) {
    const h = new LatencyHistogram();
    global.gc?.();
    const from = performance.now();
    for (let i = 0; i < ticks; i++) {
      const s = performance.now();
      await this.session.run(this.feeds);
      h.record((performance.now() - s) * 1000);
    }
    return { run_us: h.summary(), gc: gcSummary([from, performance.now()]) };
  }

  pacedSummary() {
    return { run_us: this.paced.summary(), gc: gcSummary(...this.pacedWindows), segments: this.pacedWindows.length };
  }

  async release(): Promise<void> {
    await this.session.release();
  }
}

function cBaseline(program: 'sleep_jitter' | 'spin_jitter', extraArgs: readonly string[]): unknown {
  const out = tempDir('striatum-bench-');
  const bin = join(out, program);
  try {
    execFileSync('cc', ['-O2', '-o', bin, join(ROOT, `bench/c/${program}.c`)]);
    return JSON.parse(execFileSync(bin, [String(RATE), String(Math.min(TICKS, 5000)), ...extraArgs]).toString());
  } catch (err) {
    return { error: `C baseline unavailable: ${(err as Error).message.split('\n')[0]}` };
  }
}

/** The loop's histograms over all segments, and the GC windows of their measured ticks. */
const loopPolicy = new LatencyHistogram();
const loopCompute = new LatencyHistogram();
const loopPeriodError = new LatencyHistogram();
const loopWindows: [number, number][] = [];
const loopCounts = { deadline_misses: 0, skipped_periods: 0, overruns: 0 };

/** Start the robot, run `TICKS_PER` measured ticks after a warm-up, and add what was measured to the totals. */
function ratio(a: number, b: number): number | null {
  return b > 0 ? Math.round((a / b) * 100) / 100 : null;
}

async function loopSegment(TICKS: number) {
  const loaded = loadConfig(configPath);
  const cfg = loaded.config;
  // The storm rule keeps the time span the config gives it (100 ticks at 50 Hz is 2 s): at 500 Hz, the same
  // ticks would be 0.2 s, and a loaded machine's first JIT-compiled ticks alone would trip it.
  const rateScale = RATE / cfg.control.rate_hz;
  cfg.control.deadline_storm.window = Math.max(1, Math.round(cfg.control.deadline_storm.window * rateScale));
  cfg.control.deadline_storm.max_misses = Math.round(cfg.control.deadline_storm.max_misses * rateScale);
  cfg.control.rate_hz = RATE;
  if (cfg.transport.kind === 'sim') cfg.transport.cameras = [];
  let ticks = 0;
  let tStart = 0;
  let tEnd = 0;
  const warm = 500;
  const spinUs = cfg.control.spin_us;
  const rt = await RobotRuntime.start({
    loaded, logger: silentLogger, mqtt: false, realtime: true,
    onStep: () => {
      ticks++;
      if (ticks === warm) { tStart = performance.now(); rt.loop!.takeInterval(); }
      if (ticks === warm + TICKS) { tEnd = performance.now(); rt.loop!.stop('bench done'); }
    },
  });
  global.gc?.();
  // Never hang: a loop still short of its ticks after three times its expected duration is stopped.
  const expectedMs = ((warm + TICKS) / RATE) * 1000;
  const watchdog = setTimeout(() => rt.loop!.stop('bench watchdog'), 3 * expectedMs + 30_000);
  const stopReason = await rt.run();
  clearTimeout(watchdog);
  const loop = rt.loop!;
  if (ticks < warm + TICKS) {
    // The runtime stops a loop whose safe state latched (no operator link to arm it): report that, not numbers.
    const fault = loop.lastFault;
    const reason = `the control loop stopped after ${ticks} of ${warm + TICKS} policy ticks: ${stopReason}`;
    await rt.shutdown('bench failed');
    if (fault !== null) {
      throw new StriatumError('STRIATUM_ERR_SAFETY', reason, [
        `fault: ${fault}; deadline misses ${loop.accounting.deadlineMisses}, skipped periods ${loop.accounting.skippedPeriods}, overruns ${loop.accounting.overruns} at ${RATE} Hz`,
      ]);
    }
    throw new StriatumError('STRIATUM_ERR_INTERNAL', reason);
  }
  // The histograms were reset at the warm-up's end (takeInterval): they hold the measured ticks.
  loopPolicy.add(loop.policyTime);
  loopCompute.add(loop.computeTime);
  loopPeriodError.add(loop.periodError);
  loopWindows.push([tStart, tEnd]);
  loopCounts.deadline_misses += loop.accounting.deadlineMisses;
  loopCounts.skipped_periods += loop.accounting.skippedPeriods;
  loopCounts.overruns += loop.accounting.overruns;
  const computeP50 = loop.computeTime.quantile(0.5);
  const policy = rt.status(true, '').policy;
  await rt.shutdown('bench');
  return { policy, computeP50, spinUs, deadlineStorm: cfg.control.deadline_storm };
}

// Loop and paced baseline alternate in segments (paced, loop, paced, ...), so load that drifts during the run (other
// processes on a shared machine) biases neither; each segment's ratio is also reported.
const SEGMENTS = Math.max(1, Number(values.segments ?? 4));
const bench = loadConfig(configPath);
const plain = await PlainBaseline.open(bench.resolvePath(bench.config.policy.model), bench.config.control.spin_us);
const segmentRatios: (number | null)[] = [];
let segment: Awaited<ReturnType<typeof loopSegment>> | null = null;
for (let k = 0; k < SEGMENTS; k++) {
  const ticks = Math.floor(TICKS / SEGMENTS) + (k < TICKS % SEGMENTS ? 1 : 0);
  const paced = new LatencyHistogram();
  await plain.pacedSegment(Math.floor(ticks / 2), paced);
  try {
    segment = await loopSegment(ticks);
  } catch (err) {
    const e = err as StriatumError;
    process.stderr.write(`policy-step: ${e.code ?? 'error'}: ${e.message}\n${(e.details ?? []).map((d) => `  ${d}\n`).join('')}`);
    process.exit(e.exitCode ?? 1);
  }
  await plain.pacedSegment(ticks - Math.floor(ticks / 2), paced);
  segmentRatios.push(ratio(segment.computeP50, paced.quantile(0.5)));
}
const backToBack = await plain.backToBack(TICKS);
const pacedAtRate = plain.pacedSummary();
await plain.release();
const loop = {
  policy: segment!.policy,
  ticks: TICKS,
  segments: SEGMENTS,
  policy_step_us: loopPolicy.summary(),
  tick_compute_us: loopCompute.summary(),
  period_error_us: loopPeriodError.summary(),
  ...loopCounts,
  gc: gcSummary(...loopWindows),
  spin_us: segment!.spinUs,
  deadline_storm: segment!.deadlineStorm,
};
const cSleep = cBaseline('sleep_jitter', []);
const cSpin = cBaseline('spin_jitter', [String(loop.spin_us)]);
obs.disconnect();
const sortedRatios = segmentRatios.filter((r): r is number => r !== null).sort((a, b) => a - b);
process.stdout.write(`${JSON.stringify({
  bench: 'policy-step',
  rate_hz: RATE,
  machine: { cpus: (await import('node:os')).cpus().length, node: process.version, ort: ort.env.versions?.common },
  loop,
  baseline_plain_session_run: { back_to_back: backToBack, paced_at_rate: pacedAtRate },
  baseline_c_clock_nanosleep: cSleep,
  baseline_c_sleep_then_spin: cSpin,
  ratios: {
    policy_step_p50_vs_paced_run: ratio(loop.policy_step_us.p50, pacedAtRate.run_us.p50),
    tick_compute_p50_vs_paced_run: ratio(loop.tick_compute_us.p50, pacedAtRate.run_us.p50),
    tick_compute_p99_vs_paced_run: ratio(loop.tick_compute_us.p99, pacedAtRate.run_us.p99),
    tick_compute_p50_vs_back_to_back_run: ratio(loop.tick_compute_us.p50, backToBack.run_us.p50),
    tick_compute_p50_vs_paced_run_by_segment: segmentRatios,
    tick_compute_p50_vs_paced_run_median_of_segments: sortedRatios.length > 0 ? ratio(sortedRatios[Math.floor((sortedRatios.length - 1) / 2)] + sortedRatios[Math.floor(sortedRatios.length / 2)], 2) : null,
  },
  notes: [
    'gc counts cover the measured ticks only (minor = scavenges of the young generation).',
    'The tick allocates nothing itself; the policy calls onnxruntime-node\'s native session synchronously (no setImmediate hop, no promise), whose result map is the loop\'s remaining garbage besides the simulator\'s (the world steps Rapier\'s pipeline directly, without World.step\'s per-call wrappers, but Rapier\'s wasm still reads performance.now() 36 times a step, and on Node 20 each read allocates); each sleep makes one Promise and Timeout, in both loops.',
    'paced_at_rate runs the same session.run calls with the loop\'s clock and no loop around them, in segments alternating with the loop\'s, so tick_compute_p50_vs_paced_run is the loop\'s own overhead; back-to-back calls are faster because caches and onnxruntime\'s threads stay hot.',
  ],
}, null, 2)}\n`);
