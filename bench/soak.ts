// bench/soak: one simulated robot at 500 Hz for a long run, everything on: the shipped BC policy, the demo
// process-reward models in their worker, telemetry on the embedded broker, every step recorded to the durable
// spool and streamed to an in-process updater's store. Prints one JSON object (RSS at start and end, GC count,
// deadline misses, steps spooled and stored, faults, lost steps) and a PASS/FAIL line against the goals:
// RSS growth <= 5 %, 0 faults, 0 lost steps. CI does not run it.
// Usage: node --expose-gc dist/bench/soak.js [--minutes 10]
import { createServer } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver } from 'node:perf_hooks';
import mqtt from 'mqtt';
import { stringify } from 'yaml';
import { loadConfig } from '../src/config/load.js';
import { topics } from '../src/contracts/topics.js';
import { createLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { UpdaterConfigSchema } from '../src/updater/config.js';
import { runUpdater } from '../src/updater/updater.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { benchArgs } from './bench-args.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const ROBOT = 'soak-1';
const PASS = { updater: 'soak-updater-pass', operator: 'soak-operator-pass' };
const RSS_GROWTH_MAX = 0.05;

const values = benchArgs(import.meta.url, { minutes: { type: 'string', default: '10' } });
const minutes = Number(values.minutes);
if (!(minutes > 0)) throw new Error(`--minutes must be a positive number, got ${values.minutes}`);
const runMs = minutes * 60_000;
// RSS "at start" is taken after a warm-up (JIT, onnxruntime arenas, first chunks): the goal is about growth.
const warmupMs = Math.min(60_000, Math.max(5_000, runMs * 0.1));

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const { port } = s.address() as { port: number }; s.close(() => resolve(port)); });
  });
}

const mb = (bytes: number) => Math.round(bytes / 1e5) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const dir = tempDir('striatum-soak-');
const port = await freePort();
const url = `mqtt://127.0.0.1:${port}`;

// examples/sim.yaml at 500 Hz, with rollouts on and an updater account.
const config = {
  robot: { id: ROBOT, task: 'push' },
  joints: ['x', 'y'].map((name) => ({ name, position: { min: 0.03, max: 0.77 }, velocity: 0.25, effort: 20, acceleration: 2.5 })),
  control: { rate_hz: 500, realtime: true, autostart: true, deadline_storm: { window: 100, max_misses: 20 }, link_timeout_ms: 200 },
  observation: { fields: ['joint_positions', 'joint_velocities', 'block_position', 'pad_position'], normalization: 'model' },
  action: { mode: 'velocity', chunk: 1 },
  policy: { model: join(REPO, 'models/push/policy.onnx'), execution_providers: ['cpu'], threads: 1, warmup_runs: 20 },
  transport: { kind: 'sim', time_limit_s: 15, cameras: [{ name: 'top', width: 96, height: 96, hz: 10 }] },
  mqtt: {
    broker: 'embedded', host: '127.0.0.1', port, ws_port: null, telemetry_hz: 2,
    users: [
      { username: 'updater', password: PASS.updater, role: 'updater' },
      { username: 'operator', password: PASS.operator, role: 'operator' },
    ],
  },
  episodes: { count: null, seed: 1 },
  reward: {
    models: [
      { name: 'progress', kind: 'progress', model: join(REPO, 'models/push-prm/progress.onnx'), cameras: ['top'], rate_hz: 5 },
      { name: 'success', kind: 'success', model: join(REPO, 'models/push-prm/success.onnx'), cameras: ['top'], rate_hz: 5, success_threshold: 0.9 },
    ],
    shaping: { horizon_s: 2 },
  },
  rollout: { spool_dir: join(dir, 'spool'), chunk_steps: 250 },
};
const configPath = join(dir, 'soak.yaml');
writeFileSync(configPath, stringify(config));

let gcCount = 0;
const gcObserver = new PerformanceObserver((list) => { gcCount += list.getEntries().length; });
gcObserver.observe({ entryTypes: ['gc'] });

const logger = createLogger({ level: 'warn', pretty: false });
const rssLaunch = process.memoryUsage().rss;
const runtime = await RobotRuntime.start({ loaded: loadConfig(configPath), logger, mqtt: true });
const updater = await runUpdater({
  logger,
  config: UpdaterConfigSchema.parse({ broker: { url, username: 'updater', password: PASS.updater }, store: { path: join(dir, 'store.sqlite') } }),
});

let telemetryMessages = 0;
let lastTelemetry: Record<string, any> | null = null;
const watcher = mqtt.connect(url, { username: 'operator', password: PASS.operator });
watcher.on('message', (_topic, payload) => { telemetryMessages++; lastTelemetry = JSON.parse(payload.toString()); });
watcher.subscribe(topics.telemetry(ROBOT));

const loop = runtime.loop!;
const running = runtime.run();
const started = performance.now();
await sleep(warmupMs);
(globalThis as { gc?: () => void }).gc?.();
const rssStart = process.memoryUsage().rss;
const gcAtStart = gcCount;
let rssPeak = rssStart;
const sampler = setInterval(() => { rssPeak = Math.max(rssPeak, process.memoryUsage().rss); }, 1000);
await sleep(Math.max(0, runMs - (performance.now() - started)));
(globalThis as { gc?: () => void }).gc?.();
const rssEnd = process.memoryUsage().rss;
clearInterval(sampler);

loop.stop('soak finished');
await running;
const acc = loop.accounting;
const loopStats = { ticks: acc.ticks, deadline_misses: acc.deadlineMisses, skipped_periods: acc.skippedPeriods, overruns: acc.overruns, faults: loop.faults };
// Close the last episode and drain the spool to the updater while both ends are up, then stop the rest.
await runtime.rollouts!.close('soak finished', 30_000);
const rollout = runtime.rollouts!.stats();
const stored = await updater.store.totals();
watcher.end(true);
await updater.close();
await runtime.shutdown('soak finished');
gcObserver.disconnect();

const recorded = rollout.recorder.stepsRecorded;
const lostSteps = rollout.recorder.unrecordedSteps + Math.max(0, recorded - stored.steps);
const rssGrowth = (rssEnd - rssStart) / rssStart;
const report = {
  bench: 'soak', minutes, rate_hz: 500, warmup_s: warmupMs / 1000,
  rss_mb: { launch: mb(rssLaunch), start: mb(rssStart), end: mb(rssEnd), peak: mb(rssPeak), growth_pct: Math.round(rssGrowth * 1000) / 10 },
  gc: { count: gcCount - gcAtStart, total_with_warmup: gcCount },
  loop: loopStats,
  steps: {
    recorded, spooled_chunks: rollout.spool.chunksWritten, stored: stored.steps, stored_chunks: stored.chunks, episodes_stored: stored.episodes,
    unrecorded: rollout.recorder.unrecordedSteps, left_in_spool_chunks: rollout.spool.backlogChunks, lost: lostSteps,
  },
  telemetry_messages: telemetryMessages,
  reward: (lastTelemetry as Record<string, any> | null)?.reward ?? null,
};
process.stdout.write(`${JSON.stringify(report)}\n`);
const failures: string[] = [];
if (rssGrowth > RSS_GROWTH_MAX) failures.push(`RSS grew ${report.rss_mb.growth_pct} % (goal <= ${RSS_GROWTH_MAX * 100} %)`);
if (loopStats.faults !== 0) failures.push(`${loopStats.faults} faults (goal 0)`);
if (lostSteps !== 0) failures.push(`${lostSteps} steps lost (goal 0)`);
process.stdout.write(failures.length === 0 ? 'soak: PASS (RSS growth <= 5 %, 0 faults, 0 lost steps)\n' : `soak: FAIL: ${failures.join('; ')}\n`);
process.exitCode = failures.length === 0 ? 0 : 1;
