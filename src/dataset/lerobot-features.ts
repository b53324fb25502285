// Which LeRobot features a Striatum episode becomes, and how each frame column is taken from the stored columns.
// LeRobot's own names where it has them (observation.state, action, next.reward, next.done and the five default
// columns); Striatum's extra per-step data under `striatum.`, so a LeRobot user sees what they are.
import { FLAG_DONE, FLAG_INTERVENTION, FLAG_TRUNCATED, REWARD_COMPONENTS, type RolloutLayout } from '../contracts/rollout.js';
import type { ExportedEpisode } from '../updater/store.js';
import { LEROBOT_DEFAULT_FEATURES, type LeRobotFeature } from './lerobot-format.js';
import type { ParquetValueType } from './parquet-table.js';

/** Where an episode sits in the dataset, for the columns that are not stored per step. */
export interface FramePlacement {
  readonly episodeIndex: number;
  /** Dataset-wide index of the episode's first frame. */
  readonly firstIndex: number;
  readonly taskIndex: number;
  readonly fps: number;
}

export interface FrameColumn {
  readonly key: string;
  readonly feature: LeRobotFeature;
  readonly type: ParquetValueType;
  /** Values per frame (1: a scalar column, more: a fixed-size list). */
  readonly width: number;
  /** The episode's values, row-major (rows × width). */
  values(ex: ExportedEpisode, at: FramePlacement): ArrayLike<unknown>;
}

/** Names of the flattened observation: `field` for a 1-wide field, `field[k]` otherwise (the importer reverses it). */
export function observationNames(layout: RolloutLayout): string[] {
  const names: string[] = [];
  for (const f of layout.observation) {
    if (f.size === 1) names.push(f.name);
    else for (let k = 0; k < f.size; k++) names.push(`${f.name}[${k}]`);
  }
  return names;
}

function scalar(key: string, dtype: ParquetValueType, values: FrameColumn['values']): FrameColumn {
  return { key, feature: { dtype, shape: [1], names: null }, type: dtype, width: 1, values };
}

function vector(key: string, names: string[], values: FrameColumn['values']): FrameColumn {
  return { key, feature: { dtype: 'float32', shape: [names.length], names }, type: 'float32', width: names.length, values };
}

function fromFlags(ex: ExportedEpisode, pick: (flags: number, last: boolean) => boolean): Uint8Array {
  const f = ex.columns.flags;
  const out = new Uint8Array(f.length);
  for (let i = 0; i < f.length; i++) out[i] = pick(f[i], i === f.length - 1) ? 1 : 0;
  return out;
}

const asBooleans = (a: Uint8Array): boolean[] => Array.from(a, (v) => v === 1);

function policyVersionPerStep(ex: ExportedEpisode): string[] {
  const out: string[] = [];
  for (const c of ex.chunkPolicies) for (let i = 0; i < c.steps; i++) out.push(c.policyVersion ?? '');
  return out;
}

function defaultColumn(key: keyof typeof LEROBOT_DEFAULT_FEATURES, values: FrameColumn['values']): FrameColumn {
  const feature = LEROBOT_DEFAULT_FEATURES[key];
  return { key, feature, type: feature.dtype as ParquetValueType, width: 1, values };
}

/** The frame columns of episodes recorded with `layout`, in the order they are written. */
export function frameColumns(layout: RolloutLayout): FrameColumn[] {
  const joints = [...layout.joints];
  const columns: FrameColumn[] = [
    vector('observation.state', observationNames(layout), (ex) => ex.columns.observation),
    // What the robot was commanded (after the safety filter): what a LeRobot policy learns to output.
    vector('action', joints, (ex) => ex.columns.command),
    scalar('next.reward', 'float32', (ex) => ex.columns.reward.total),
    // The environment's done or truncation, and the episode's last frame (an aborted episode sets neither flag).
    scalar('next.done', 'bool', (ex) => asBooleans(fromFlags(ex, (f, last) => last || (f & (FLAG_DONE | FLAG_TRUNCATED)) !== 0))),
    vector('striatum.policy_action', joints, (ex) => ex.columns.action),
    scalar('striatum.progress', 'float32', (ex) => ex.columns.progress),
  ];
  for (const k of REWARD_COMPONENTS) columns.push(scalar(`striatum.reward.${k}`, 'float32', (ex) => ex.columns.reward[k]));
  columns.push(
    scalar('striatum.intervention', 'bool', (ex) => asBooleans(fromFlags(ex, (f) => (f & FLAG_INTERVENTION) !== 0))),
    scalar('striatum.flags', 'uint8', (ex) => ex.columns.flags),
    scalar('striatum.step', 'int32', (ex) => ex.columns.step),
    scalar('striatum.stamp_ms', 'float64', (ex) => ex.columns.stampMs),
    scalar('striatum.policy_version', 'string', policyVersionPerStep),
    // Timestamps on the fps grid, as LeRobot's own recorder writes them; the robot's clock is striatum.stamp_ms.
    defaultColumn('timestamp', (ex, at) => Float32Array.from({ length: ex.steps }, (_, i) => i / at.fps)),
    defaultColumn('frame_index', (ex) => BigInt64Array.from({ length: ex.steps }, (_, i) => BigInt(i))),
    defaultColumn('episode_index', (ex, at) => new BigInt64Array(ex.steps).fill(BigInt(at.episodeIndex))),
    defaultColumn('index', (ex, at) => BigInt64Array.from({ length: ex.steps }, (_, i) => BigInt(at.firstIndex + i))),
    defaultColumn('task_index', (ex, at) => new BigInt64Array(ex.steps).fill(BigInt(at.taskIndex))),
  );
  return columns;
}

/** The HF `datasets` feature description of a column (the `huggingface` parquet metadata). */
export function hfFeature(c: FrameColumn): unknown {
  const value = { dtype: c.type, _type: 'Value' };
  return c.width === 1 ? value : { feature: value, length: c.width, _type: 'Sequence' };
}
