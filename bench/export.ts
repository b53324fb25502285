// bench/export: dataset export speed and size, and what recording MCAP on the robot costs the control loop.
// 1. A store filled with E episodes of S steps (64-float observation, 6 joints, every reward component), then in
//    the same run: the raw store read (exportEpisode of every episode), the LeRobot v3 export and the MCAP
//    export of the same episodes: steps/s and bytes/step of each.
// 2. The simulator robot on its real-time clock at --hz with the shipped policy, --seconds with recording.mcap off,
//    then the same with it on: the tick's compute time and wake-up lateness (p50, p99, max), the recorder's own
//    onStep cost, and steps recorded/dropped.
// Prints one JSON object. Usage: node dist/bench/export.js [--episodes 40] [--steps 500] [--hz 200] [--seconds 10]
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { loadConfig } from '../src/config/load.js';
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, encodeRolloutChunk, type RewardComponent, type RolloutColumns, type RolloutLayout,
} from '../src/contracts/rollout.js';
import { topics } from '../src/contracts/topics.js';
import { exportLeRobot } from '../src/dataset/lerobot-export.js';
import { exportMcap } from '../src/dataset/mcap-export.js';
import { silentLogger } from '../src/log.js';
import { RobotRuntime } from '../src/runtime/robot-runtime.js';
import { Ingest } from '../src/updater/ingest.js';
import { RolloutStore } from '../src/updater/store.js';
import { tempDir } from '../test/helpers/fixtures.js';
import { benchArgs } from './bench-args.js';

const REPO = fileURLToPath(new URL('../../', import.meta.url));
const values = benchArgs(import.meta.url, { episodes: { type: 'string', default: '40' }, steps: { type: 'string', default: '500' }, hz: { type: 'string', default: '200' }, seconds: { type: 'string', default: '10' } });
const EPISODES = Number(values.episodes);
const STEPS = Number(values.steps);
const HZ = Number(values.hz);
const SECONDS = Number(values.seconds);
const OBS = 64;
const ACT = 6;
const dir = tempDir('striatum-bench-export-');

function duSize(path: string): number {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((s, n) => s + duSize(join(path, n)), 0);
}

// ---- 1. export throughput ----------------------------------------------------------------------------------
const storePath = join(dir, 'store.db');
{
  const store = new RolloutStore(storePath);
  const ingest = new Ingest(store, { maxChunkBytes: 64 << 20, logger: silentLogger });
  const layout: RolloutLayout = { observation: [{ name: 'joint_positions', size: ACT }, { name: 'features', size: OBS - ACT }], joints: Array.from({ length: ACT }, (_, i) => `j${i}`), reward: [...REWARD_COMPONENTS], camera: null };
  for (let e = 0; e < EPISODES; e++) {
    const reward = {} as Record<RewardComponent, Float32Array>;
    for (const k of REWARD_COMPONENTS) reward[k] = Float32Array.from({ length: STEPS }, Math.random);
    const cols: RolloutColumns = {
      observation: Float32Array.from({ length: STEPS * OBS }, Math.random), action: Float32Array.from({ length: STEPS * ACT }, Math.random),
      command: Float32Array.from({ length: STEPS * ACT }, Math.random), progress: Float32Array.from({ length: STEPS }, Math.random), reward,
      flags: new Uint8Array(STEPS), step: Int32Array.from({ length: STEPS }, (_, i) => i), stampMs: Float64Array.from({ length: STEPS }, (_, i) => i * 20),
      frames: null, frameStep: null,
    };
    const result = await ingest.handle(topics.rollout('bench-1'), encodeRolloutChunk({
      v: ROLLOUT_VERSION, robot: 'bench-1', episode: `aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee:${e}`, chunk: 0, policy_version: 'p1', task: 'push', instruction: 'push',
      stamp: new Date().toISOString(), stamp_origin_unix_ms: null, layout, n: STEPS, skipped_steps: 0, final: true, outcome: 'success', end_reason: null,
    }, cols, 'none'));
    if (result.outcome !== 'stored') throw new Error(`bench episode ${e} was not stored: ${JSON.stringify(result)}`);
  }
  store.close();
}
const total = EPISODES * STEPS;
const store = RolloutStore.openExisting(storePath);
const rate = (ms: number): number => Math.round(total / (ms / 1000));
let t = performance.now();
for (const r of store.listEpisodes()) store.exportEpisode(r.robot, r.episode);
const rawMs = performance.now() - t;
t = performance.now();
const lerobotDir = join(dir, 'lerobot');
exportLeRobot(store, lerobotDir, {});
const lerobotMs = performance.now() - t;
t = performance.now();
const mcapPath = join(dir, 'episodes.mcap');
await exportMcap(store, mcapPath, {});
const mcapMs = performance.now() - t;
store.close();
const storeBytes = statSync(storePath).size;

// ---- 2. tick cost with MCAP recording off and on ---------------------------------------------------------------
async function runRobot(mcap: boolean): Promise<Record<string, unknown>> {
  const cfg = {
    robot: { id: 'bench-export', task: 'push' },
    joints: ['x', 'y'].map((name) => ({ name, position: { min: 0.03, max: 0.77 }, velocity: 0.25, effort: 20, acceleration: 2.5 })),
    control: { rate_hz: HZ, realtime: true, autostart: true, deadline_storm: { window: 100, max_misses: 100_000 } },
    observation: { fields: ['joint_positions', 'joint_velocities', 'block_position', 'pad_position'], normalization: 'model' },
    action: { mode: 'velocity', chunk: 1 },
    policy: { model: join(REPO, 'models/push/policy.onnx'), threads: 1, warmup_runs: 20 },
    transport: { kind: 'sim', time_limit_s: 15, cameras: [] },
    recording: mcap ? { mcap: { path: join(dir, 'rec', 'bench.mcap') } } : { mcap: null },
  };
  const path = join(dir, `robot-${mcap ? 'on' : 'off'}.yaml`);
  writeFileSync(path, stringify(cfg));
  const rt = await RobotRuntime.start({ loaded: loadConfig(path), logger: silentLogger, mqtt: false, realtime: true, episodes: null });
  const loop = rt.loop as NonNullable<typeof rt.loop>;
  const running = rt.run();
  await new Promise((r) => setTimeout(r, 1000));
  loop.takeInterval(); // warm-up second left out
  await new Promise((r) => setTimeout(r, SECONDS * 1000));
  const iv = loop.takeInterval();
  const rec = rt.mcap?.stats() ?? null;
  await rt.shutdown('bench done');
  await running.catch(() => undefined);
  return {
    compute_us: iv.compute, wake_late_us: iv.periodError,
    ...(rec !== null ? { mcap_steps: rec.steps, mcap_dropped: rec.dropped, mcap_files: rec.files } : {}),
  };
}
const off = await runRobot(false);
const on = await runRobot(true);
const recDir = join(dir, 'rec');

process.stdout.write(`${JSON.stringify({
  episodes: EPISODES, steps_per_episode: STEPS, observation: OBS, joints: ACT,
  raw_store_read: { steps_per_s: rate(rawMs), bytes_per_step: Math.round(storeBytes / total) },
  lerobot_export: { steps_per_s: rate(lerobotMs), bytes_per_step: Math.round(duSize(lerobotDir) / total) },
  mcap_export: { steps_per_s: rate(mcapMs), bytes_per_step: Math.round(duSize(mcapPath) / total) },
  control_loop: { hz: HZ, seconds: SECONDS, mcap_off: off, mcap_on: on, mcap_bytes_per_step: Math.round(duSize(recDir) / Math.max(1, Number(on.mcap_steps))) },
  machine_note: 'shared CPUs: compare the two halves of one run, not runs on different machines',
}, null, 2)}\n`);
