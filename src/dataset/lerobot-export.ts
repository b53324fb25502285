// Episode store → LeRobot v3.0 dataset. Reads the store only. Data files are filled episode by episode (one row
// group per episode) up to LEROBOT_DATA_FILE_MB; each file is written whole (atomic-file.ts) and meta/info.json
// last, so a folder whose export was interrupted holds whole files and no info.json: never a dataset that looks
// complete but is not.
import { StriatumError } from '../errors.js';
import type { RolloutLayout } from '../contracts/rollout.js';
import type { EpisodeRow, RolloutStore } from '../updater/store.js';
import { writeFileAtomic } from './atomic-file.js';
import { frameColumns, hfFeature, type FrameColumn } from './lerobot-features.js';
import {
  LEROBOT_CHUNKS_SIZE, LEROBOT_CODEBASE_VERSION, LEROBOT_DATA_FILE_MB, LEROBOT_DATA_PATH, LEROBOT_EPISODES_PATH,
  LEROBOT_STATS, LEROBOT_VIDEO_FILE_MB, LEROBOT_VIDEO_PATH, lerobotPath, type LeRobotFeature, type LeRobotInfo,
} from './lerobot-format.js';
import { aggregateStats, episodeStats, type EpisodeFeatureStats, type FeatureStats } from './lerobot-stats.js';
import { encodeParquetTable, type ParquetColumn } from './parquet-table.js';
import { ImageStats, encodeVideo, heldFrames, videoFeature, videoKey } from './lerobot-video.js';
import { join } from 'node:path';

export interface LeRobotExportOptions {
  readonly robot?: string;
  /** Only episodes of this Striatum task. */
  readonly task?: string;
  /** Only complete episodes (every chunk stored); otherwise partial episodes go in with the steps stored. */
  readonly complete?: boolean;
  /** Frames per second; by default the control rate measured from the episodes' step stamps. */
  readonly fps?: number;
  /** LeRobot's robot_type; by default the robot id when the export holds one robot. */
  readonly robotType?: string;
  /** Start a new data file past this many bytes (estimated before compression). */
  readonly dataFileBytes?: number;
}

export interface LeRobotExportResult {
  readonly episodes: number;
  readonly frames: number;
  readonly tasks: number;
  readonly fps: number;
  readonly files: string[];
  readonly bytes: number;
}

interface EpisodeMeta {
  readonly row: EpisodeRow;
  readonly length: number;
  readonly task: string;
  readonly dataChunk: number;
  readonly dataFile: number;
  readonly from: number;
  /** Seconds into its data file's video where the episode starts (frames before it in that file / fps). */
  readonly videoFrom: number;
  readonly stats: Map<string, EpisodeFeatureStats>;
}

function sameLayout(a: RolloutLayout, b: RolloutLayout): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The control rate from the stamps: the median step interval over the first episodes, rounded to a whole fps. */
function measuredFps(store: RolloutStore, rows: readonly EpisodeRow[]): number {
  const gaps: number[] = [];
  for (const r of rows.slice(0, 20)) {
    const ex = store.exportEpisode(r.robot, r.episode, { requireComplete: false });
    const s = ex.columns.stampMs;
    const step = ex.columns.step;
    for (let i = 1; i < s.length && gaps.length < 10_000; i++) if (step[i] === step[i - 1] + 1) gaps.push(s[i] - s[i - 1]);
  }
  gaps.sort((a, b) => a - b);
  const median = gaps[Math.floor(gaps.length / 2)];
  if (median === undefined || !(median > 0)) {
    throw new StriatumError('STRIATUM_ERR_USAGE', 'the control rate cannot be measured from these episodes (fewer than two consecutive steps); give it with --fps');
  }
  return Math.max(1, Math.round(1000 / median));
}

/** Bytes one frame takes in memory before compression: the size estimate that starts new data files. */
function frameBytes(columns: readonly FrameColumn[]): number {
  let b = 0;
  for (const c of columns) b += c.width * (c.type === 'float64' || c.type === 'int64' ? 8 : c.type === 'string' ? 16 : 4);
  return b;
}

function concatColumn(c: FrameColumn, parts: ArrayLike<unknown>[]): ArrayLike<unknown> {
  if (parts.length === 1) return parts[0];
  const out: unknown[] = [];
  for (const p of parts) for (let i = 0; i < p.length; i++) out.push(p[i]);
  if (c.type === 'int64') return BigInt64Array.from(out as bigint[]);
  return out;
}

/**
 * Export the selected episodes of `store` into `dir` (which the caller has checked is empty or cleaned).
 * Nothing in the store changes.
 */
export function exportLeRobot(store: RolloutStore, dir: string, options: LeRobotExportOptions = {}): LeRobotExportResult {
  const rows = store.listEpisodes({ robot: options.robot, complete: options.complete === true ? true : undefined })
    .filter((r) => (options.task === undefined || r.task === options.task) && r.steps > 0);
  if (rows.length === 0) throw new StriatumError('STRIATUM_ERR_USAGE', `no stored episodes match (robot ${options.robot ?? 'any'}, task ${options.task ?? 'any'}${options.complete === true ? ', complete only' : ''})`);
  const fps = options.fps ?? measuredFps(store, rows);
  const first = store.exportEpisode(rows[0].robot, rows[0].episode, { requireComplete: false });
  const layout = first.layout;
  const columns = frameColumns(layout);
  const statColumns = columns.filter((c) => c.type !== 'string');
  const maxBytes = options.dataFileBytes ?? LEROBOT_DATA_FILE_MB * 1024 * 1024;
  const perFrame = frameBytes(columns);
  const hf = JSON.stringify({ info: { features: Object.fromEntries(columns.map((c) => [c.key, hfFeature(c)])) } });

  const tasks = new Map<string, number>();
  const episodes: EpisodeMeta[] = [];
  const files: string[] = [];
  let bytes = 0;
  let frames = 0;
  let fileIndex = 0;
  /** The episodes of the data file being filled: their column values (in `columns` order), row counts, images. */
  let pending: { values: ArrayLike<unknown>[]; rows: number; images: Uint8Array | null }[] = [];
  let pendingRows = 0;
  const camera = layout.camera;
  const imageStats = camera === null ? null : new ImageStats(camera.channels);
  let pendingBytes = 0;

  const flush = (): void => {
    if (pending.length === 0) return;
    const chunk = Math.floor(fileIndex / LEROBOT_CHUNKS_SIZE);
    const file = fileIndex % LEROBOT_CHUNKS_SIZE;
    const parquet: ParquetColumn[] = columns.map((c, k) => ({
      name: c.key, type: c.type, list: c.width === 1 ? null : c.width, values: concatColumn(c, pending.map((p) => p.values[k])),
    }));
    const path = lerobotPath(LEROBOT_DATA_PATH, chunk, file);
    bytes += writeFileAtomic(join(dir, path), encodeParquetTable(parquet, { rowGroups: pending.map((p) => p.rows), metadata: { huggingface: hf } }));
    files.push(path);
    if (camera !== null) {
      const video = lerobotPath(LEROBOT_VIDEO_PATH, chunk, file, videoKey(camera));
      encodeVideo(join(dir, video), Buffer.concat(pending.map((p) => p.images as Uint8Array)), pendingRows, camera, fps);
      files.push(video);
    }
    fileIndex++;
    pending = [];
    pendingBytes = 0;
    pendingRows = 0;
  };

  for (const row of rows) {
    const ex = row === rows[0] ? first : store.exportEpisode(row.robot, row.episode, { requireComplete: false });
    if (!sameLayout(ex.layout, layout)) {
      throw new StriatumError('STRIATUM_ERR_USAGE', `episode ${row.robot}/${row.episode} was recorded with another layout (observation, joints or camera) than ${rows[0].robot}/${rows[0].episode}; export them apart with --robot or --task`);
    }
    const task = ex.instruction !== '' ? ex.instruction : ex.task;
    if (!tasks.has(task)) tasks.set(task, tasks.size);
    const imageBytes = camera === null ? 0 : camera.width * camera.height * camera.channels;
    const frameBytesHere = ex.steps * (perFrame + imageBytes);
    if (pending.length > 0 && pendingBytes + frameBytesHere > maxBytes) flush();
    const meta: EpisodeMeta = {
      row, length: ex.steps, task, dataChunk: Math.floor(fileIndex / LEROBOT_CHUNKS_SIZE), dataFile: fileIndex % LEROBOT_CHUNKS_SIZE,
      from: frames, videoFrom: pending.length === 0 ? 0 : pendingRows / fps, stats: new Map(),
    };
    episodes.push(meta);
    const at = { episodeIndex: episodes.length - 1, firstIndex: frames, taskIndex: tasks.get(task) as number, fps };
    const values = columns.map((c) => c.values(ex, at));
    columns.forEach((c, k) => { if (c.type !== 'string') meta.stats.set(c.key, episodeStats(values[k] as ArrayLike<number>, ex.steps, c.width)); });
    frames += ex.steps;
    const images = camera === null ? null : heldFrames(ex, camera);
    if (images !== null) imageStats?.add(images, ex.steps);
    pending.push({ values, rows: ex.steps, images });
    pendingBytes += frameBytesHere;
    pendingRows += ex.steps;
  }
  flush();

  // meta/episodes: one file (a row is a few hundred bytes; a million episodes would still be one sane file).
  const episodesPath = lerobotPath(LEROBOT_EPISODES_PATH, 0, 0);
  const i64 = (pick: (e: EpisodeMeta, i: number) => number): BigInt64Array => BigInt64Array.from(episodes, (e, i) => BigInt(pick(e, i)));
  const episodeColumns: ParquetColumn[] = [
    { name: 'episode_index', type: 'int64', list: null, values: i64((_, i) => i) },
    { name: 'tasks', type: 'string', list: 'variable', values: episodes.map((e) => [e.task]) },
    { name: 'length', type: 'int64', list: null, values: i64((e) => e.length) },
    { name: 'data/chunk_index', type: 'int64', list: null, values: i64((e) => e.dataChunk) },
    { name: 'data/file_index', type: 'int64', list: null, values: i64((e) => e.dataFile) },
    { name: 'dataset_from_index', type: 'int64', list: null, values: i64((e) => e.from) },
    { name: 'dataset_to_index', type: 'int64', list: null, values: i64((e) => e.from + e.length) },
  ];
  if (camera !== null) {
    const key = videoKey(camera);
    episodeColumns.push(
      { name: `videos/${key}/chunk_index`, type: 'int64', list: null, values: i64((e) => e.dataChunk) },
      { name: `videos/${key}/file_index`, type: 'int64', list: null, values: i64((e) => e.dataFile) },
      { name: `videos/${key}/from_timestamp`, type: 'float64', list: null, values: episodes.map((e) => e.videoFrom) },
      { name: `videos/${key}/to_timestamp`, type: 'float64', list: null, values: episodes.map((e) => e.videoFrom + e.length / fps) },
    );
  }
  for (const c of statColumns) {
    for (const s of LEROBOT_STATS) {
      episodeColumns.push({
        name: `stats/${c.key}/${s}`, type: s === 'count' ? 'int64' : 'float64', list: 'variable',
        values: episodes.map((e) => (e.stats.get(c.key) as EpisodeFeatureStats).stats[s]),
      });
    }
  }
  episodeColumns.push(
    { name: 'meta/episodes/chunk_index', type: 'int64', list: null, values: i64(() => 0) },
    { name: 'meta/episodes/file_index', type: 'int64', list: null, values: i64(() => 0) },
    // Where each episode came from, so it can be found in the store again.
    { name: 'striatum/robot', type: 'string', list: null, values: episodes.map((e) => e.row.robot) },
    { name: 'striatum/episode', type: 'string', list: null, values: episodes.map((e) => e.row.episode) },
    { name: 'striatum/task', type: 'string', list: null, values: episodes.map((e) => e.row.task) },
    { name: 'striatum/outcome', type: 'string', list: null, values: episodes.map((e) => e.row.outcome ?? '') },
    { name: 'striatum/complete', type: 'bool', list: null, values: episodes.map((e) => e.row.complete) },
    { name: 'striatum/skipped_steps', type: 'int64', list: null, values: i64((e) => e.row.skipped_steps) },
  );
  bytes += writeFileAtomic(join(dir, episodesPath), encodeParquetTable(episodeColumns));
  files.push(episodesPath);

  // meta/tasks.parquet: the task text is the pandas index, so LeRobot's `tasks.loc[task]` finds it.
  const taskList = [...tasks.keys()];
  const tasksColumns: ParquetColumn[] = [
    { name: 'task_index', type: 'int64', list: null, values: BigInt64Array.from(taskList, (_, i) => BigInt(i)) },
    { name: 'task', type: 'string', list: null, values: taskList },
  ];
  bytes += writeFileAtomic(join(dir, 'meta/tasks.parquet'), encodeParquetTable(tasksColumns, { metadata: { pandas: PANDAS_TASKS_METADATA } }));
  files.push('meta/tasks.parquet');

  const stats: Record<string, FeatureStats | ReturnType<ImageStats['stats']>> = {};
  for (const c of statColumns) stats[c.key] = aggregateStats(episodes.map((e) => e.stats.get(c.key) as EpisodeFeatureStats));
  if (camera !== null && imageStats !== null) stats[videoKey(camera)] = imageStats.stats();
  bytes += writeFileAtomic(join(dir, 'meta/stats.json'), Buffer.from(`${JSON.stringify(stats, null, 2)}\n`));
  files.push('meta/stats.json');

  const robots = new Set(episodes.map((e) => e.row.robot));
  const features: Record<string, LeRobotFeature> = {};
  for (const c of columns) features[c.key] = c.feature;
  if (camera !== null) features[videoKey(camera)] = videoFeature(camera, fps);
  const info: LeRobotInfo = {
    codebase_version: LEROBOT_CODEBASE_VERSION,
    robot_type: options.robotType ?? (robots.size === 1 ? [...robots][0] : 'striatum'),
    total_episodes: episodes.length,
    total_frames: frames,
    total_tasks: tasks.size,
    chunks_size: LEROBOT_CHUNKS_SIZE,
    data_files_size_in_mb: LEROBOT_DATA_FILE_MB,
    video_files_size_in_mb: LEROBOT_VIDEO_FILE_MB,
    fps,
    splits: { train: `0:${episodes.length}` },
    data_path: LEROBOT_DATA_PATH,
    video_path: camera === null ? null : LEROBOT_VIDEO_PATH,
    features,
  };
  // Last: a folder with info.json is a finished dataset.
  bytes += writeFileAtomic(join(dir, 'meta/info.json'), Buffer.from(`${JSON.stringify(info, null, 4)}\n`));
  files.push('meta/info.json');
  return { episodes: episodes.length, frames, tasks: tasks.size, fps, files, bytes };
}

/** What pandas' `to_parquet` records for a frame with the task text as its index (named `task`). */
const PANDAS_TASKS_METADATA = JSON.stringify({
  index_columns: ['task'],
  column_indexes: [{ name: null, field_name: null, pandas_type: 'unicode', numpy_type: 'object', metadata: { encoding: 'UTF-8' } }],
  columns: [
    { name: 'task_index', field_name: 'task_index', pandas_type: 'int64', numpy_type: 'int64', metadata: null },
    { name: 'task', field_name: 'task', pandas_type: 'unicode', numpy_type: 'object', metadata: null },
  ],
  creator: { library: 'pyarrow', version: '21.0.0' },
  pandas_version: '2.2.3',
});
