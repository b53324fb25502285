// LeRobot v3.0 dataset → demonstrations the trainers read (the folder `striatum record` writes): observations.npy,
// actions.npy, episode_index.npy and meta.json, plus every other per-frame feature under features/ with its own
// dtype (features/<key>.npy; text as features/<key>.json), so nothing in the dataset is lost on the way in.
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import type { RobotConfig } from '../config/schema.js';

export type ActionMode = RobotConfig['action']['mode'];
import { npyHeader, type NpyDescr } from '../util/npy.js';
import { writeFileAtomic } from './atomic-file.js';
import { LEROBOT_DEFAULT_FEATURES, type LeRobotFeature, type LeRobotInfo } from './lerobot-format.js';
import {
  columnFeatures, dataFile, datasetError, episodeFiles, featureColumn, flatValues, readInfo, readTable,
} from './lerobot-read.js';

export interface LeRobotImportOptions {
  readonly mode: ActionMode;
  /** The Striatum task name in meta.json; default: the dataset's `striatum/task`, else its robot_type. */
  readonly task?: string;
  /** The robot the demonstrations are for: its joint count and known observation sizes are checked. */
  readonly robot?: { readonly joints: readonly string[]; readonly minObservation: number; readonly task: string };
}

export interface LeRobotImportResult {
  readonly episodes: number;
  readonly frames: number;
  readonly fps: number;
  readonly files: string[];
}

interface EpisodeEntry {
  readonly index: number;
  readonly length: number;
  readonly chunk: number;
  readonly file: number;
  readonly tasks: string[];
  /** null: the dataset does not say (a demonstration, taken as a success). */
  readonly outcome: string | null;
  readonly striatumEpisode: string | null;
  readonly striatumTask: string | null;
}

const NPY_DESCR: Record<string, NpyDescr> = { float32: '<f4', float64: '<f8', int64: '<i8', int32: '<i4', uint8: '|u1', bool: '|b1' };

function typedFor(dtype: string, n: number): Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array {
  switch (dtype) {
    case 'float32': return new Float32Array(n);
    case 'float64': return new Float64Array(n);
    case 'int64': return new BigInt64Array(n);
    case 'int32': return new Int32Array(n);
    default: return new Uint8Array(n);
  }
}

/** Observation fields from the feature's names: `field[k]` runs become one field of that size. */
export function observationFields(key: string, f: LeRobotFeature): { name: string; size: number }[] {
  let names: unknown = f.names;
  if (names !== null && typeof names === 'object' && !Array.isArray(names)) names = Object.values(names)[0];
  if (!Array.isArray(names) || names.length !== f.shape[0]) return [{ name: key, size: f.shape[0] }];
  const fields: { name: string; size: number }[] = [];
  for (const n of names as string[]) {
    const m = /^(.*)\[(\d+)\]$/.exec(n);
    const last = fields[fields.length - 1];
    if (m !== null && last !== undefined && last.name === m[1] && Number(m[2]) === last.size) last.size++;
    else fields.push({ name: m !== null && m[2] === '0' ? m[1] : n, size: 1 });
  }
  return fields;
}

function readEpisodes(dir: string): EpisodeEntry[] {
  const out: EpisodeEntry[] = [];
  for (const file of episodeFiles(dir)) {
    const t = readTable(dir, file);
    const need = (name: string): arrow.Vector => {
      const v = t.getChild(name);
      if (v === null) throw datasetError(dir, file, `no column "${name}"`);
      return v;
    };
    const idx = need('episode_index');
    const len = need('length');
    const chunk = need('data/chunk_index');
    const fileIndex = need('data/file_index');
    const tasks = t.getChild('tasks');
    const outcome = t.getChild('striatum/outcome');
    const sEpisode = t.getChild('striatum/episode');
    const sTask = t.getChild('striatum/task');
    for (let i = 0; i < t.numRows; i++) {
      const task = tasks?.get(i);
      out.push({
        index: Number(idx.get(i)), length: Number(len.get(i)), chunk: Number(chunk.get(i)), file: Number(fileIndex.get(i)),
        tasks: task === null || task === undefined ? [] : Array.from(task as Iterable<string>),
        // Striatum's own exports say how each episode ended ('' when it never did: a partial episode).
        outcome: outcome === null ? null : String(outcome.get(i) ?? ''),
        striatumEpisode: (sEpisode?.get(i) as string | null | undefined) ?? null,
        striatumTask: (sTask?.get(i) as string | null | undefined) ?? null,
      });
    }
  }
  out.sort((a, b) => a.index - b.index);
  return out;
}

function vectorFeature(dir: string, info: LeRobotInfo, key: string): LeRobotFeature {
  const f = info.features[key];
  if (f === undefined) throw datasetError(dir, 'meta/info.json', `features has no "${key}"`);
  if ((f.dtype !== 'float32' && f.dtype !== 'float64') || f.shape.length !== 1) {
    throw datasetError(dir, 'meta/info.json', `features.${key}: dtype ${f.dtype} shape [${f.shape.join(', ')}]; a 1-D float32 (or float64) vector is needed`);
  }
  return f;
}

/** Import `dir` into `out` (which the caller has checked is empty or cleaned). */
export function importLeRobot(dir: string, out: string, options: LeRobotImportOptions): LeRobotImportResult {
  const info = readInfo(dir);
  const obsF = vectorFeature(dir, info, 'observation.state');
  const actF = vectorFeature(dir, info, 'action');
  const obsDim = obsF.shape[0];
  const actDim = actF.shape[0];
  if (options.robot !== undefined) {
    if (actDim !== options.robot.joints.length) throw datasetError(dir, 'meta/info.json', `features.action has ${actDim} values per frame; the robot has ${options.robot.joints.length} joints (${options.robot.joints.join(', ')})`);
    if (obsDim < options.robot.minObservation) throw datasetError(dir, 'meta/info.json', `features.observation.state has ${obsDim} values per frame; the robot's observation has at least ${options.robot.minObservation}`);
  }
  const episodes = readEpisodes(dir);
  const frames = episodes.reduce((s, e) => s + e.length, 0);
  if (frames !== info.total_frames) throw datasetError(dir, 'meta/info.json', `total_frames is ${info.total_frames} but the episodes add up to ${frames}`);

  const features = columnFeatures(info).filter(([k]) => k !== 'observation.state' && k !== 'action');
  const observations = new Float32Array(frames * obsDim);
  const actions = new Float32Array(frames * actDim);
  const episodeIndex = new Int32Array(frames);
  const extra = new Map<string, { f: LeRobotFeature; values: ArrayLike<unknown> & { set?: unknown } | unknown[] }>();
  for (const [k, f] of features) extra.set(k, { f, values: f.dtype === 'string' ? new Array<string>(frames) : typedFor(f.dtype, frames * f.shape[0]) });

  // Each data file once; the rows of every episode it holds are copied into place.
  const byFile = new Map<string, EpisodeEntry[]>();
  for (const e of episodes) {
    const f = dataFile(info, e.chunk, e.file);
    byFile.set(f, [...(byFile.get(f) ?? []), e]);
  }
  const rowOf = new Map<number, number>();
  let next = 0;
  for (const e of episodes) { rowOf.set(e.index, next); next += e.length; }
  for (const [file, inFile] of byFile) {
    const t = readTable(dir, file);
    const epCol = featureColumn(dir, file, t, 'episode_index', LEROBOT_DEFAULT_FEATURES.episode_index).toArray() as BigInt64Array;
    const frameCol = featureColumn(dir, file, t, 'frame_index', LEROBOT_DEFAULT_FEATURES.frame_index).toArray() as BigInt64Array;
    const obs = flatValues(dir, file, 'observation.state', featureColumn(dir, file, t, 'observation.state', obsF), obsDim) as Float32Array;
    const act = flatValues(dir, file, 'action', featureColumn(dir, file, t, 'action', actF), actDim) as Float32Array;
    const cols = features.map(([k, f]) => [k, flatValues(dir, file, k, featureColumn(dir, file, t, k, f), f.shape[0])] as const);
    const wanted = new Set(inFile.map((e) => e.index));
    const seen = new Map<number, number>();
    for (let r = 0; r < t.numRows; r++) {
      const ep = Number(epCol[r]);
      if (!wanted.has(ep)) continue;
      const k = seen.get(ep) ?? 0;
      if (Number(frameCol[r]) !== k) throw datasetError(dir, file, `row ${r}: episode ${ep} frame_index ${frameCol[r]}, expected ${k} (frames out of order or missing)`);
      seen.set(ep, k + 1);
      const at = (rowOf.get(ep) as number) + k;
      observations.set(obs.subarray(r * obsDim, (r + 1) * obsDim), at * obsDim);
      actions.set(act.subarray(r * actDim, (r + 1) * actDim), at * actDim);
      episodeIndex[at] = ep;
      for (const [key, values] of cols) {
        const target = extra.get(key) as { f: LeRobotFeature; values: unknown };
        const w = target.f.shape[0];
        if (Array.isArray(target.values)) target.values[at] = (values as unknown[])[r];
        else if (target.f.dtype === 'bool') (target.values as Uint8Array)[at] = (values as boolean[])[r] ? 1 : 0;
        else (target.values as Float32Array).set((values as Float32Array).subarray(r * w, (r + 1) * w), at * w);
      }
    }
    for (const e of inFile) {
      if ((seen.get(e.index) ?? 0) !== e.length) throw datasetError(dir, file, `episode ${e.index} has ${seen.get(e.index) ?? 0} frames here; meta/episodes says length ${e.length}`);
    }
  }

  const files: string[] = [];
  const write = (name: string, parts: Uint8Array[]): void => { writeFileAtomic(join(out, name), parts); files.push(name); };
  const npy = (name: string, descr: NpyDescr, data: ArrayBufferView, shape: number[]): void =>
    write(name, [npyHeader(descr, shape), new Uint8Array(data.buffer, data.byteOffset, data.byteLength)]);
  npy('observations.npy', '<f4', observations, [frames, obsDim]);
  npy('actions.npy', '<f4', actions, [frames, actDim]);
  npy('episode_index.npy', '<i4', episodeIndex, [frames]);
  for (const [key, { f, values }] of extra) {
    const shape = f.shape[0] === 1 ? [frames] : [frames, f.shape[0]];
    if (f.dtype === 'string') write(`features/${key}.json`, [Buffer.from(`${JSON.stringify(values)}\n`)]);
    else npy(`features/${key}.npy`, NPY_DESCR[f.dtype], values as unknown as ArrayBufferView, shape);
  }

  const task = options.task ?? options.robot?.task ?? episodes.find((e) => e.striatumTask !== null)?.striatumTask ?? info.robot_type ?? 'lerobot';
  const meta = {
    task,
    control_hz: info.fps,
    observation_fields: observationFields('observation.state', obsF),
    action: { mode: options.mode, joints: options.robot?.joints ?? actJointNames(actF) },
    source: 'lerobot',
    progress: false,
    frames: null,
    lerobot: { codebase_version: info.codebase_version, robot_type: info.robot_type, fps: info.fps, features: info.features },
    // A teleoperated demonstration is a success unless the dataset says otherwise (Striatum's own exports do).
    episodes: episodes.map((e) => ({
      index: e.index, steps: e.length, success: e.outcome === null || e.outcome === 'success', outcome: e.outcome === null ? 'success' : e.outcome || 'incomplete',
      instruction: e.tasks[0] ?? '', ...(e.striatumEpisode !== null ? { striatum_episode: e.striatumEpisode } : {}),
    })),
  };
  write('meta.json', [Buffer.from(`${JSON.stringify(meta, null, 2)}\n`)]);
  return { episodes: episodes.length, frames, fps: info.fps, files };
}

function actJointNames(f: LeRobotFeature): string[] {
  let names: unknown = f.names;
  if (names !== null && typeof names === 'object' && !Array.isArray(names)) names = Object.values(names)[0];
  return Array.isArray(names) && names.length === f.shape[0] ? names.map(String) : Array.from({ length: f.shape[0] }, (_, i) => `joint_${i}`);
}
