// Camera frames as LeRobot video features: one image per frame row (the newest frame rendered at or before the
// step, held until the next one), encoded to MP4 by the system's ffmpeg (Debian: ffmpeg). LeRobot decodes
// h264 as well as its own default AV1; h264 (libx264) is used here because it takes any frame size.
import { spawnSync } from 'node:child_process';
import { renameSync, rmSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { mkdirSync } from 'node:fs';
import type { RolloutLayout } from '../contracts/rollout.js';
import { StriatumError } from '../errors.js';
import type { ExportedEpisode } from '../updater/store.js';
import { PARTIAL_SUFFIX } from './atomic-file.js';
import type { LeRobotFeature } from './lerobot-format.js';

export const VIDEO_CODEC = 'h264';

type Camera = NonNullable<RolloutLayout['camera']>;

export function videoKey(camera: Camera): string {
  return `observation.images.${camera.name}`;
}

/** Even sizes take 4:2:0 chroma (what every player decodes); odd sizes cannot, and keep full chroma. */
function pixelFormat(camera: Camera): string {
  return camera.width % 2 === 0 && camera.height % 2 === 0 ? 'yuv420p' : 'yuv444p';
}

export function videoFeature(camera: Camera, fps: number): LeRobotFeature {
  return {
    dtype: 'video', shape: [camera.height, camera.width, camera.channels], names: ['height', 'width', 'channels'],
    info: {
      'video.height': camera.height, 'video.width': camera.width, 'video.codec': VIDEO_CODEC, 'video.pix_fmt': pixelFormat(camera),
      'video.is_depth_map': false, 'video.fps': fps, 'video.channels': camera.channels, 'has_audio': false,
    },
  };
}

/** One image per step: the newest frame rendered at or before the step (the first frame before it exists). */
export function heldFrames(ex: ExportedEpisode, camera: Camera): Uint8Array {
  const size = camera.width * camera.height * camera.channels;
  const frames = ex.columns.frames;
  const frameStep = ex.columns.frameStep;
  const out = new Uint8Array(ex.steps * size);
  if (frames === null || frameStep === null || frameStep.length === 0) return out;
  let f = 0;
  for (let i = 0; i < ex.steps; i++) {
    const step = ex.columns.step[i];
    while (f + 1 < frameStep.length && frameStep[f + 1] <= step) f++;
    out.set(frames.subarray(f * size, (f + 1) * size), i * size);
  }
  return out;
}

/** Per-channel statistics of images, scaled to [0, 1] and shaped [channels][1][1] as LeRobot keeps them. */
export class ImageStats {
  private readonly min: number[];
  private readonly max: number[];
  private readonly sum: number[];
  private readonly sq: number[];
  private frames = 0;
  private pixels = 0;

  constructor(private readonly channels: number) {
    this.min = new Array<number>(channels).fill(255);
    this.max = new Array<number>(channels).fill(0);
    this.sum = new Array<number>(channels).fill(0);
    this.sq = new Array<number>(channels).fill(0);
  }

  add(images: Uint8Array, frames: number): void {
    const c = this.channels;
    for (let i = 0; i < images.length; i++) {
      const k = i % c;
      const v = images[i];
      if (v < this.min[k]) this.min[k] = v;
      if (v > this.max[k]) this.max[k] = v;
      this.sum[k] += v;
      this.sq[k] += v * v;
    }
    this.frames += frames;
    this.pixels += images.length / c;
  }

  stats(): Record<string, number[][][] | number[]> {
    const n = Math.max(1, this.pixels);
    const mean = this.sum.map((s) => s / n);
    const std = this.sq.map((s, k) => Math.sqrt(Math.max(0, s / n - mean[k] ** 2)));
    const shaped = (a: number[]): number[][][] => a.map((v) => [[v / 255]]);
    return { min: shaped(this.min), max: shaped(this.max), mean: shaped(mean), std: shaped(std), count: [this.frames] };
  }
}

/** Encode `count` images (row-major RGB or gray) into an MP4 at `path`, whole or not at all. */
export function encodeVideo(path: string, images: Uint8Array, count: number, camera: Camera, fps: number): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}${PARTIAL_SUFFIX}.mp4`);
  const r = spawnSync('ffmpeg', [
    '-hide_banner', '-loglevel', 'error', '-y',
    '-f', 'rawvideo', '-pix_fmt', camera.channels === 3 ? 'rgb24' : 'gray', '-s', `${camera.width}x${camera.height}`, '-r', String(fps), '-i', 'pipe:0',
    '-frames:v', String(count), '-c:v', 'libx264', '-pix_fmt', pixelFormat(camera), '-g', '2', '-crf', '23', '-movflags', '+faststart', tmp,
  ], { input: images, maxBuffer: 16 << 20 });
  if (r.error !== undefined) {
    rmSync(tmp, { force: true });
    throw new StriatumError('STRIATUM_ERR_IO', `ffmpeg could not be run (${r.error.message}); install it: apt-get install ffmpeg`);
  }
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    throw new StriatumError('STRIATUM_ERR_IO', `ffmpeg failed encoding ${path}: ${r.stderr.toString().trim().split('\n').pop() ?? `exit ${r.status}`}`);
  }
  renameSync(tmp, path);
}
