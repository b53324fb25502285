// An episode store filled for the dataset tests: episodes with awkward values (NaN rewards, negative zero,
// float32 extremes), every flag bit, a policy change inside an episode, a partial episode and a second task.
// The expected columns are kept beside it, so exports are compared with what went in, not with another export.
import { SeededRng } from '../../src/sim/rng.js';
import {
  FLAG_DONE, FLAG_INTERVENTION, FLAG_NO_REWARD, FLAG_TRUNCATED, REWARD_COMPONENTS, ROLLOUT_VERSION, encodeRolloutChunk,
  type RewardComponent, type RolloutColumns, type RolloutLayout,
} from '../../src/contracts/rollout.js';
import { topics } from '../../src/contracts/topics.js';
import { silentLogger } from '../../src/log.js';
import { Ingest } from '../../src/updater/ingest.js';
import { RolloutStore } from '../../src/updater/store.js';

export const DATASET_RUN = '22222222-3333-4444-8555-666666666666';
export const DATASET_LAYOUT: RolloutLayout = {
  observation: [{ name: 'joint_positions', size: 2 }, { name: 'block', size: 3 }, { name: 'gripper', size: 1 }],
  joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null,
};
export const DATASET_OBS = 6;
export const DATASET_ACT = 2;
/** 50 Hz: step k is stamped k·20 ms. */
export const DATASET_FPS = 50;

export interface StoredEpisode {
  readonly episode: string;
  readonly task: string;
  readonly instruction: string;
  readonly complete: boolean;
  readonly outcome: string | null;
  readonly columns: RolloutColumns;
  readonly policyVersions: string[];
}

function columns(index: number, n: number): RolloutColumns {
  const r = new SeededRng(index + 7); // seeded: a failure reproduces
  const f = (k: number) => Float32Array.from({ length: k }, () => Math.fround(r.uniform(-5, 5)));
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = f(n);
  const observation = f(n * DATASET_OBS);
  observation[0] = -0; // negative zero must come back as negative zero
  observation[1] = 3.4028234663852886e38; // float32 max
  observation[2] = 1.401298464324817e-45; // smallest subnormal
  const flags = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    // Steps 3..5 have no reward (NaN in every component) and an operator intervention at step 4.
    if (i >= 3 && i <= 5) {
      flags[i] |= FLAG_NO_REWARD;
      for (const k of REWARD_COMPONENTS) reward[k][i] = NaN;
    }
    if (i === 4) flags[i] |= FLAG_INTERVENTION;
  }
  flags[n - 1] |= index % 2 === 0 ? FLAG_DONE : FLAG_TRUNCATED;
  return {
    observation, action: f(n * DATASET_ACT), command: f(n * DATASET_ACT), progress: f(n), reward, flags,
    step: Int32Array.from({ length: n }, (_, i) => i),
    stampMs: Float64Array.from({ length: n }, (_, i) => 1000 + i * (1000 / DATASET_FPS)),
    frames: null, frameStep: null,
  };
}

function slice(c: RolloutColumns, a: number, b: number): RolloutColumns {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = c.reward[k].slice(a, b);
  return {
    observation: c.observation.slice(a * DATASET_OBS, b * DATASET_OBS), action: c.action.slice(a * DATASET_ACT, b * DATASET_ACT),
    command: c.command.slice(a * DATASET_ACT, b * DATASET_ACT), progress: c.progress.slice(a, b), reward, flags: c.flags.slice(a, b),
    step: c.step.slice(a, b), stampMs: c.stampMs.slice(a, b), frames: null, frameStep: null,
  };
}

/**
 * Store episodes 0..3 of robot arm-1: 0 and 1 complete (task push), 1 changes policy after its first chunk,
 * 2 has its final chunk missing (partial), 3 is task stack (complete). Returns what went in.
 */
export async function fillDatasetStore(path: string): Promise<StoredEpisode[]> {
  const store = new RolloutStore(path);
  const ingest = new Ingest(store, { maxChunkBytes: 8 << 20, logger: silentLogger });
  const plan = [
    { n: 37, chunks: [20, 17], task: 'push', instruction: 'push the block onto the pad', outcome: 'success', versions: ['p1', 'p1'], drop: -1 },
    { n: 23, chunks: [10, 13], task: 'push', instruction: 'push the block onto the pad', outcome: 'timeout', versions: ['p1', 'p2'], drop: -1 },
    { n: 30, chunks: [15, 15], task: 'push', instruction: 'push the block onto the pad', outcome: 'failure', versions: ['p2', 'p2'], drop: 1 },
    { n: 12, chunks: [12], task: 'stack', instruction: '', outcome: 'success', versions: ['p3'], drop: -1 },
  ] as const;
  const out: StoredEpisode[] = [];
  for (const [index, p] of plan.entries()) {
    const all = columns(index, p.n);
    let first = 0;
    for (const [chunk, n] of p.chunks.entries()) {
      const final = chunk === p.chunks.length - 1;
      if (chunk !== p.drop) {
        const payload = encodeRolloutChunk({
          v: ROLLOUT_VERSION, robot: 'arm-1', episode: `${DATASET_RUN}:${index}`, chunk, policy_version: p.versions[chunk], task: p.task,
          instruction: p.instruction, stamp: new Date(0).toISOString(), stamp_origin_unix_ms: null, layout: DATASET_LAYOUT, n,
          skipped_steps: 0, final, outcome: final ? p.outcome : null, end_reason: null,
        }, slice(all, first, first + n), 'gzip');
        const r = await ingest.handle(topics.rollout('arm-1'), payload);
        if (r.outcome !== 'stored') throw new Error(`test chunk not stored: ${r.outcome} ${JSON.stringify(r.ack)}`);
      }
      first += n;
    }
    const kept = p.drop === -1 ? all : slice(all, 0, p.chunks.slice(0, p.drop).reduce((a, b) => a + b, 0));
    const versions: string[] = [];
    p.chunks.forEach((n, chunk) => { if (chunk !== p.drop) for (let i = 0; i < n; i++) versions.push(p.versions[chunk]); });
    out.push({
      episode: `${DATASET_RUN}:${index}`, task: p.task, instruction: p.instruction, complete: p.drop === -1,
      outcome: p.drop === -1 ? p.outcome : null, columns: kept, policyVersions: versions,
    });
  }
  store.close();
  return out;
}

export const CAMERA = { name: 'top', width: 32, height: 24, channels: 3 as const };
export const CAMERA_LENGTHS = [10, 7];

/** The grey level of camera frame m (each frame one flat colour, so a lossy codec keeps it recognisable). */
export const cameraLevel = (m: number): number => (40 + m * 20) % 256;

/**
 * Store two complete episodes with a camera: a frame at every second step (steps 0, 2, 4, …), each frame one
 * flat grey level. Returns the per-step frame number each LeRobot row should show (the newest at or before it).
 */
export async function fillCameraStore(path: string): Promise<number[][]> {
  const store = new RolloutStore(path);
  const ingest = new Ingest(store, { maxChunkBytes: 8 << 20, logger: silentLogger });
  const layout: RolloutLayout = { ...DATASET_LAYOUT, camera: CAMERA };
  const size = CAMERA.width * CAMERA.height * CAMERA.channels;
  const shown: number[][] = [];
  let m0 = 0;
  for (const [index, n] of CAMERA_LENGTHS.entries()) {
    const cols = columns(index, n);
    const frameStep = Int32Array.from({ length: Math.ceil(n / 2) }, (_, k) => k * 2);
    const frames = new Uint8Array(frameStep.length * size);
    for (let k = 0; k < frameStep.length; k++) frames.fill(cameraLevel(m0 + k), k * size, (k + 1) * size);
    shown.push(Array.from({ length: n }, (_, i) => m0 + Math.floor(i / 2)));
    m0 += frameStep.length;
    const payload = encodeRolloutChunk({
      v: ROLLOUT_VERSION, robot: 'cam-1', episode: `${DATASET_RUN}:${index}`, chunk: 0, policy_version: 'p1', task: 'push', instruction: 'push',
      stamp: new Date(0).toISOString(), stamp_origin_unix_ms: null, layout, n, skipped_steps: 0, final: true, outcome: 'success', end_reason: null,
    }, { ...cols, frames, frameStep }, 'gzip');
    const r = await ingest.handle(topics.rollout('cam-1'), payload);
    if (r.outcome !== 'stored') throw new Error(`camera chunk not stored: ${JSON.stringify(r.ack)}`);
  }
  store.close();
  return shown;
}
