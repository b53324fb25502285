// LeRobot dataset format v3.0, as LeRobot's own code reads it: paths, the info.json schema, feature dtypes and
// how each dtype is laid out in parquet and in Arrow. Declared once here; the exporter writes by it and the
// importer checks by it. No I/O.
import { z } from 'zod';

export const LEROBOT_CODEBASE_VERSION = 'v3.0';
/** Files per chunk folder, and the size a data or video file grows to before the next one starts. */
export const LEROBOT_CHUNKS_SIZE = 1000;
export const LEROBOT_DATA_FILE_MB = 100;
export const LEROBOT_VIDEO_FILE_MB = 200;
export const LEROBOT_DATA_PATH = 'data/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';
export const LEROBOT_VIDEO_PATH = 'videos/{video_key}/chunk-{chunk_index:03d}/file-{file_index:03d}.mp4';
export const LEROBOT_EPISODES_PATH = 'meta/episodes/chunk-{chunk_index:03d}/file-{file_index:03d}.parquet';

/** `data/chunk-001/file-002.parquet` from the template and the indices. */
export function lerobotPath(template: string, chunk: number, file: number, videoKey = ''): string {
  return template
    .replace('{video_key}', videoKey)
    .replace('{chunk_index:03d}', String(chunk).padStart(3, '0'))
    .replace('{file_index:03d}', String(file).padStart(3, '0'));
}

/** Feature dtypes this code writes and reads (LeRobot's names: numpy/HF `datasets` Value dtypes, plus video). */
export const LEROBOT_DTYPES = ['float32', 'float64', 'int64', 'int32', 'uint8', 'bool', 'string', 'video', 'image'] as const;
export type LeRobotDtype = (typeof LEROBOT_DTYPES)[number];

export const LeRobotFeatureSchema = z.object({
  dtype: z.string().min(1),
  shape: z.array(z.int().min(1)).min(1),
  names: z.union([z.array(z.string()), z.record(z.string(), z.unknown()), z.null()]).optional(),
  info: z.record(z.string(), z.unknown()).nullable().optional(),
});
export type LeRobotFeature = z.infer<typeof LeRobotFeatureSchema>;

export const LeRobotInfoSchema = z.object({
  codebase_version: z.string(),
  robot_type: z.string().nullable(),
  total_episodes: z.int().min(0),
  total_frames: z.int().min(0),
  total_tasks: z.int().min(0),
  chunks_size: z.int().min(1),
  data_files_size_in_mb: z.number().positive().optional(),
  video_files_size_in_mb: z.number().positive().optional(),
  fps: z.number().positive(),
  splits: z.record(z.string(), z.string()),
  data_path: z.string().min(1),
  video_path: z.string().nullable(),
  features: z.record(z.string(), LeRobotFeatureSchema),
});
export type LeRobotInfo = z.infer<typeof LeRobotInfoSchema>;

/** The five columns every LeRobot frame has, in LeRobot's order (DEFAULT_FEATURES). */
export const LEROBOT_DEFAULT_FEATURES: Record<string, LeRobotFeature> = {
  timestamp: { dtype: 'float32', shape: [1], names: null },
  frame_index: { dtype: 'int64', shape: [1], names: null },
  episode_index: { dtype: 'int64', shape: [1], names: null },
  index: { dtype: 'int64', shape: [1], names: null },
  task_index: { dtype: 'int64', shape: [1], names: null },
};

/** Statistics LeRobot keeps per feature, in stats.json and as `stats/{feature}/{stat}` episode columns. */
export const LEROBOT_STATS = ['min', 'max', 'mean', 'std', 'count', 'q01', 'q10', 'q50', 'q90', 'q99'] as const;
export type LeRobotStat = (typeof LEROBOT_STATS)[number];
export const LEROBOT_QUANTILES: Record<'q01' | 'q10' | 'q50' | 'q90' | 'q99', number> = { q01: 0.01, q10: 0.1, q50: 0.5, q90: 0.9, q99: 0.99 };

/** Stored in parquet (not a video or image file) and one value or one fixed-size vector per frame. */
export function isColumnFeature(f: LeRobotFeature): boolean {
  return f.dtype !== 'video' && f.dtype !== 'image';
}

/** A 1-D feature of more than one value is a fixed-size list column; shape [1] is a scalar column. */
export function isVectorFeature(f: LeRobotFeature): boolean {
  return f.shape.length === 1 && f.shape[0] > 1;
}
