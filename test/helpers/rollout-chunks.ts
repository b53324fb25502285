// Rollout chunks made by hand for updater tests: chunk `chunk` of episode `index`, steps [first, first + n).
import {
  REWARD_COMPONENTS, ROLLOUT_VERSION, encodeRolloutChunk, type RewardComponent, type RolloutColumns, type RolloutHeaderInput,
  type RolloutLayout,
} from '../../src/contracts/rollout.js';
import { topics } from '../../src/contracts/topics.js';

export const ROLLOUT_TEST_RUN = '11111111-2222-4333-8444-555555555555';
export const ROLLOUT_TEST_TOPIC = topics.rollout('arm-1');
const LAYOUT: RolloutLayout = { observation: [{ name: 'o', size: 3 }], joints: ['x', 'y'], reward: [...REWARD_COMPONENTS], camera: null };

/** Observation = index·10000 + step·8 + k; the robot is arm-1 unless told. */
export function rolloutTestChunk(index: number, chunk: number, first: number, n: number, final: false | 'success' | 'aborted' = false, options: { robot?: string; skippedSteps?: number } = {}): Uint8Array {
  const reward = {} as Record<RewardComponent, Float32Array>;
  for (const k of REWARD_COMPONENTS) reward[k] = Float32Array.from({ length: n }, (_, i) => first + i);
  const cols: RolloutColumns = {
    observation: Float32Array.from({ length: n * 3 }, (_, j) => index * 10_000 + (first + Math.floor(j / 3)) * 8 + (j % 3)),
    action: new Float32Array(n * 2).fill(0.5), command: new Float32Array(n * 2).fill(0.25), progress: new Float32Array(n),
    reward, flags: new Uint8Array(n), step: Int32Array.from({ length: n }, (_, i) => first + i),
    stampMs: Float64Array.from({ length: n }, (_, i) => (first + i) * 20), frames: null, frameStep: null,
  };
  const h: RolloutHeaderInput = {
    v: ROLLOUT_VERSION, robot: options.robot ?? 'arm-1', episode: `${ROLLOUT_TEST_RUN}:${index}`, chunk, policy_version: 'p1', task: 'push', instruction: 'push',
    stamp: new Date().toISOString(), stamp_origin_unix_ms: null, layout: LAYOUT, n, skipped_steps: options.skippedSteps ?? 0,
    final: final !== false, outcome: final === false ? null : final, end_reason: null,
  };
  return encodeRolloutChunk(h, cols, 'gzip');
}
