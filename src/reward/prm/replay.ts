// Recorded camera frames judged offline by the robot's own PRM stack: one PrmWorkerHost (worker thread, adapter,
// preprocessing, tokenizer), configured and resolved as RewardPipeline does it, reading a FrameRing. Frames go in
// one at a time and each answer is awaited before the next frame, so every recorded frame is judged, with the
// window and start frame a robot watching that video would have. The episode played backwards is the worker's
// own reversed pass (the one the robot runs for VROC).
import { dirname, resolve } from 'node:path';
import { StriatumError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { PrmKind, PrmMetadata } from '../metadata.js';
import { PrmModelConfigSchema } from './config.js';
import { FrameRing } from './frame-ring.js';
import { readPrmMetadataFile, resolvePrmModel, type CameraSize } from './load-adapter.js';
import { PrmWorkerHost, UPDATE_OK, type PrmUpdate } from './prm-worker.js';

/** Kinds whose answers carry progress, and the success kind, whose answer is P(success). */
const PROGRESS_KINDS: readonly PrmKind[] = ['progress', 'pairwise'];
const REPLAY_KINDS: readonly PrmKind[] = [...PROGRESS_KINDS, 'success'];
/** Camera frame period written into the ring's stamps (the recorder's 10 Hz); only their order matters. */
const FRAME_PERIOD_MS = 100;
const POLL_MS = 1;
const STATUS = ['ok', 'run error', 'timeout', 'worker crash'];

export interface PrmReplayOptions {
  /** The model's striatum.prm/v1 metadata; the ONNX file is the one it names. */
  readonly metadataPath: string;
  /** The recorded camera, which the model judges as its one view. */
  readonly camera: CameraSize;
  /** Longest episode to replay, in frames: the worker keeps that many for the reversed pass. */
  readonly maxEpisodeFrames: number;
  readonly logger: Logger;
}

export class PrmReplay {
  private episode = 0;
  private frames = 0;
  private stampMs = 0;

  private constructor(readonly host: PrmWorkerHost, private readonly ring: FrameRing, readonly metadata: PrmMetadata) {}

  /** Start the worker (loads and warms up the model); rejects with the worker's StriatumError. */
  static async start(o: PrmReplayOptions): Promise<PrmReplay> {
    const metadataPath = resolve(o.metadataPath);
    const metadata = readPrmMetadataFile(metadataPath);
    if (!REPLAY_KINDS.includes(metadata.kind)) {
      throw new StriatumError('STRIATUM_ERR_USAGE', `${o.metadataPath} is a ${metadata.kind} model; only ${REPLAY_KINDS.join(', ')} models can be replayed`);
    }
    if (o.maxEpisodeFrames > 4096) throw new StriatumError('STRIATUM_ERR_USAGE', `an episode of ${o.maxEpisodeFrames} frames is longer than the worker keeps for its reversed pass (4096)`);
    // A reward model entry of a robot config, as a user would write it: the defaults are the robot's, except the
    // rate (as fast as the config allows: the answer is awaited anyway) and a timeout no loaded machine reaches.
    const config = PrmModelConfigSchema.parse({
      name: metadata.name.replace(/[^A-Za-z0-9_-]/g, '_').replace(/^[^A-Za-z_]/, '_'),
      kind: metadata.kind,
      model: resolve(dirname(metadataPath), metadata.model),
      metadata: metadataPath,
      cameras: [o.camera.name],
      rate_hz: 100,
      timeout_ms: 60000,
      reversed_eval_frames: Math.max(o.maxEpisodeFrames, 1),
    });
    const { model } = resolvePrmModel(config, [o.camera], (p) => resolve(p));
    const ring = FrameRing.create(o.camera.name, o.camera.width, o.camera.height, 1);
    const host = new PrmWorkerHost({ model, rings: [ring], reader: 0, logger: o.logger });
    await host.start();
    return new PrmReplay(host, ring, metadata);
  }

  /**
   * Progress (for a success model: P(success)) after each frame of one episode, in order: `rgb` holds the frames back to back (H·W·3 bytes each),
   * the first one is the episode's start frame, `instruction` its task text.
   */
  async judge(rgb: Uint8Array, instruction: string): Promise<Float64Array> {
    const frameBytes = this.ring.frameBytes;
    const n = rgb.length / frameBytes;
    if (!Number.isInteger(n) || n < 1) throw new StriatumError('STRIATUM_ERR_INTERNAL', `replay: ${rgb.length} bytes is not a whole number of ${frameBytes}-byte frames`);
    this.episode++;
    this.frames = n;
    this.host.setEpisode(this.episode, instruction);
    while (this.host.takeUpdate() !== null);
    const progress = new Float64Array(n);
    for (let k = 0; k < n; k++) {
      this.stampMs += FRAME_PERIOD_MS;
      const frame = rgb.subarray(k * frameBytes, (k + 1) * frameBytes);
      if (!this.ring.write(frame, this.stampMs, this.episode)) {
        throw new StriatumError('STRIATUM_ERR_INTERNAL', `replay: frame ${k} of episode ${this.episode} found no free ring slot`);
      }
      // A worker still reading the previous start frame keeps this one out of the start slot; on the robot the next
      // camera frame takes its place, here nothing comes until this frame is judged, which needs a start frame.
      while (k === 0 && this.ring.startEpisode !== this.episode) {
        if (!this.ring.writeStart(frame, this.stampMs, this.episode)) await new Promise<void>((done) => setTimeout(done, POLL_MS));
      }
      const u = await this.nextUpdate();
      if (u.status !== UPDATE_OK) {
        throw new StriatumError(u.status === 1 ? 'STRIATUM_ERR_PRM_SHAPE' : 'STRIATUM_ERR_INTERNAL', `reward model gave no answer for frame ${k} of a replayed episode (${STATUS[u.status]})`);
      }
      progress[k] = this.metadata.kind === 'success' ? u.done[0] : u.progress[0];
    }
    return progress;
  }

  /** The last judged episode played backwards (in the order shown), by the worker's reversed pass. */
  async judgeReversed(): Promise<Float64Array> {
    const progress = await this.host.requestReversed(this.episode);
    if (progress === null || progress.length !== this.frames) {
      throw new StriatumError('STRIATUM_ERR_INTERNAL', `reward model's reversed pass gave ${progress?.length ?? 'no'} values for ${this.frames} frames`);
    }
    return progress;
  }

  close(): Promise<void> {
    return this.host.close();
  }

  /** The next answer, polled as the control loop polls it (timeouts included). */
  private async nextUpdate(): Promise<PrmUpdate> {
    for (;;) {
      this.host.poll(performance.now());
      const u = this.host.takeUpdate();
      // An answer about the previous episode (the worker re-judges its newest frame after a reversed pass) is not one.
      if (u !== null && u.episode === this.episode) return u;
      if (u !== null) continue;
      if (this.host.state === 'failed' || this.host.state === 'closed') throw new StriatumError('STRIATUM_ERR_INTERNAL', `reward model worker ${this.host.state}`);
      await new Promise<void>((done) => setTimeout(done, POLL_MS));
    }
  }
}
