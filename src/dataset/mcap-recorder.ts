// The robot's own MCAP recording (`recording.mcap`), a StepSink. On the tick, onStep only copies the step into a
// ring of preallocated typed arrays (no allocation, no waiting); a timer between ticks drains the ring into the
// MCAP writer (mcap-steps.ts), whose chunks go to disk through the thread pool (mcap-file.ts). A full ring drops
// the step and counts it. Every start writes a new file (`<stem>-<UTC time>-<n>.mcap`, never an existing one),
// rotated at max_size; a recording cut off by a crash keeps every whole chunk for `striatum mcap recover`.
import { randomUUID } from 'node:crypto';
import { basename, dirname, extname, join } from 'node:path';
import { McapWriter } from '@mcap/core';
import type { EpisodeStart, EpisodeSummary, StepSink, StepView } from '../control/step.js';
import { FLAG_DONE, FLAG_TRUNCATED, REWARD_COMPONENTS } from '../contracts/rollout.js';
import type { Logger } from '../log.js';
import type { RewardStep } from '../reward/reward-step.js';
import type { CameraFrame } from '../transports/types.js';
import { McapFile } from './mcap-file.js';
import { McapStepWriter, type McapLayout } from './mcap-steps.js';

export interface McapRecorderOptions {
  /** `dir/stem.mcap`: files are `dir/stem-<time>-<n>.mcap`. */
  readonly path: string;
  readonly topics: ReadonlySet<string> | null;
  readonly maxBytes: number;
  readonly chunkBytes: number;
  readonly layout: McapLayout;
  /** The reward pipeline's per-step record (read after it wrote it), or null without PRMs. */
  readonly reward: RewardStep | null;
  /** Unix ms of stamp 0 (realtime clock); null in virtual time (stamps start at 0). */
  readonly stampOriginUnixMs: number | null;
  readonly logger: Logger;
  /** The newest frame of a camera (the transport's own buffer), read between ticks; null without cameras. */
  readonly latestFrame: ((camera: string) => CameraFrame | null) | null;
  /** Steps the ring holds between drains. */
  readonly ringSteps?: number;
  /** How often the ring is drained, ms. */
  readonly drainMs?: number;
}

interface EpisodeEvent { readonly atStep: number; readonly start: boolean; readonly index: number; readonly policyVersion: string; readonly instruction: string; readonly outcome: string | null; readonly endReason: string | null; readonly steps: number }

export class McapRecorder implements StepSink {
  private readonly cap: number;
  private readonly obsDim: number;
  private readonly actDim: number;
  private readonly observation: Float64Array;
  private readonly command: Float64Array;
  private readonly action: Float64Array;
  private readonly reward: Float64Array;
  private readonly stampMs: Float64Array;
  private readonly stepIndex: Float64Array;
  private readonly episodeIndex: Float64Array;
  private readonly progress: Float64Array;
  private readonly flags: Uint8Array;
  private readonly hasReward: Uint8Array;
  /** Steps written by onStep / taken by the drain; the ring slot is the count modulo cap. */
  private head = 0;
  private tail = 0;
  private readonly events: EpisodeEvent[] = [];
  private readonly runId = randomUUID();
  dropped = 0;
  private fileSeq = 0;
  private file: McapFile | null = null;
  private writer: McapWriter | null = null;
  private steps: McapStepWriter | null = null;
  private timer: NodeJS.Timeout | null = null;
  private draining: Promise<void> | null = null;
  private readonly stamp = new Date().toISOString().replace(/[-:]/g, '').replace(/\.\d+Z$/, 'Z');
  readonly files: string[] = [];
  private failed = false;
  private droppedReported = 0;
  // Reused by the drain (off the tick) for one step's views.
  private readonly rewardRow = new Float64Array(REWARD_COMPONENTS.length);
  /** Stamp of the last frame written per camera (layout order). */
  private readonly frameStamps: Float64Array;
  framesWritten = 0;

  constructor(private readonly o: McapRecorderOptions) {
    this.cap = o.ringSteps ?? 4096;
    this.obsDim = o.layout.observation.reduce((s, f) => s + f.size, 0);
    this.actDim = o.layout.joints.length;
    this.observation = new Float64Array(this.cap * this.obsDim);
    this.command = new Float64Array(this.cap * this.actDim);
    this.action = new Float64Array(this.cap * this.actDim);
    this.reward = new Float64Array(this.cap * REWARD_COMPONENTS.length);
    this.stampMs = new Float64Array(this.cap);
    this.stepIndex = new Float64Array(this.cap);
    this.episodeIndex = new Float64Array(this.cap);
    this.progress = new Float64Array(this.cap);
    this.flags = new Uint8Array(this.cap);
    this.hasReward = new Uint8Array(this.cap);
    this.frameStamps = new Float64Array(o.layout.cameras.length).fill(Number.NEGATIVE_INFINITY);
  }

  /** Open the first file and start draining. */
  async start(): Promise<void> {
    await this.openFile();
    this.timer = setInterval(() => { void this.drain(); }, this.o.drainMs ?? 50);
  }

  onEpisodeStart(e: EpisodeStart): void {
    this.events.push({ atStep: this.head, start: true, index: e.episode, policyVersion: e.policy_version, instruction: e.instruction, outcome: null, endReason: null, steps: 0 });
  }

  onEpisodeEnd(s: EpisodeSummary): void {
    this.events.push({ atStep: this.head, start: false, index: s.episode, policyVersion: s.policy_version, instruction: s.instruction, outcome: s.outcome, endReason: s.end_reason, steps: s.steps });
  }

  /** On the tick: copy into the ring, nothing else. */
  onStep(step: StepView): void {
    if (this.head - this.tail >= this.cap) {
      this.dropped++;
      return;
    }
    const slot = this.head % this.cap;
    const obs = step.observation;
    let o = slot * this.obsDim;
    for (let i = 0; i < this.obsDim; i++) this.observation[o + i] = obs[i];
    o = slot * this.actDim;
    for (let i = 0; i < this.actDim; i++) {
      this.command[o + i] = step.command[i];
      this.action[o + i] = step.action[i];
    }
    const r = this.o.reward;
    if (r !== null) {
      o = slot * REWARD_COMPONENTS.length;
      this.reward[o] = r.rawProgress;
      this.reward[o + 1] = r.potential;
      this.reward[o + 2] = r.nextPotential;
      this.reward[o + 3] = r.shaping;
      this.reward[o + 4] = r.gold;
      this.reward[o + 5] = r.task;
      this.reward[o + 6] = r.intrinsic;
      this.reward[o + 7] = r.total;
    }
    this.hasReward[slot] = r === null ? 0 : 1;
    this.stampMs[slot] = step.stampMs;
    this.stepIndex[slot] = step.step;
    this.episodeIndex[slot] = step.episode;
    this.progress[slot] = step.progress;
    this.flags[slot] = (step.done ? FLAG_DONE : 0) | (step.truncated ? FLAG_TRUNCATED : 0);
    this.head++;
  }

  stats(): { steps: number; dropped: number; files: number; bytes: number } {
    return { steps: this.tail, dropped: this.dropped, files: this.files.length, bytes: this.file?.bytes ?? 0 };
  }

  private stampNs(ms: number): bigint {
    return BigInt(Math.round(((this.o.stampOriginUnixMs ?? 0) + ms) * 1e6));
  }

  private async openFile(): Promise<void> {
    const dir = dirname(this.o.path);
    const stem = basename(this.o.path, extname(this.o.path));
    let path = '';
    for (;;) {
      path = join(dir, `${stem}-${this.stamp}-${this.fileSeq++}.mcap`);
      try {
        this.file = await McapFile.create(path);
        break;
      } catch (err) {
        // Another start in the same second wrote this name: take the next number, never its file.
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
    }
    this.writer = new McapWriter({ writable: this.file as McapFile, useChunks: true, chunkSize: this.o.chunkBytes });
    this.steps = new McapStepWriter(this.writer, this.o.layout, this.o.topics);
    await this.steps.start('striatum');
    this.files.push(path);
    this.o.logger.info('MCAP recording', { file: path });
  }

  private async closeFile(): Promise<void> {
    if (this.writer === null || this.file === null) return;
    await this.writer.end();
    await this.file.close();
    this.writer = null;
    this.steps = null;
    this.file = null;
  }

  /** Move what the ring holds into the file; one drain at a time. */
  drain(): Promise<void> {
    if (this.draining !== null) return this.draining;
    this.draining = this.drainNow().catch((err: unknown) => {
      if (!this.failed) this.o.logger.error('MCAP recording failed; the robot keeps running without it', { error: String((err as Error).message ?? err) });
      this.failed = true;
    }).finally(() => { this.draining = null; });
    return this.draining;
  }

  private async drainNow(): Promise<void> {
    if (this.failed) {
      this.tail = this.head;
      this.events.length = 0;
      return;
    }
    if (this.dropped > this.droppedReported) {
      this.o.logger.warn('MCAP recording fell behind: steps dropped (ring full)', { dropped: this.dropped, ring_steps: this.cap });
      this.droppedReported = this.dropped;
    }
    await this.drainFrames();
    const end = this.head;
    while (this.tail < end || (this.events.length > 0 && this.events[0].atStep <= end)) {
      if (this.events.length > 0 && this.events[0].atStep <= this.tail) {
        const e = this.events.shift() as EpisodeEvent;
        const lastSlot = (Math.max(this.tail, 1) - 1) % this.cap;
        await this.steps?.episode({
          event: e.start ? 'start' : 'end', episode: `${this.runId}:${e.index}`, stampNs: this.stampNs(this.tail > 0 ? this.stampMs[lastSlot] : 0),
          policy_version: e.policyVersion, instruction: e.instruction, outcome: e.outcome, end_reason: e.endReason, steps: e.steps,
        });
        continue;
      }
      if (this.tail >= end) break;
      const slot = this.tail % this.cap;
      const a = slot * this.actDim;
      let reward: Float64Array | null = null;
      if (this.hasReward[slot] === 1) {
        this.rewardRow.set(this.reward.subarray(slot * REWARD_COMPONENTS.length, (slot + 1) * REWARD_COMPONENTS.length));
        reward = this.rewardRow;
      }
      await this.steps?.step({
        episode: `${this.runId}:${this.episodeIndex[slot]}`, step: this.stepIndex[slot], stampNs: this.stampNs(this.stampMs[slot]),
        observation: this.observation.subarray(slot * this.obsDim, (slot + 1) * this.obsDim),
        command: this.command.subarray(a, a + this.actDim), action: this.action.subarray(a, a + this.actDim),
        progress: this.progress[slot], flags: this.flags[slot], done: (this.flags[slot] & FLAG_DONE) !== 0, truncated: (this.flags[slot] & FLAG_TRUNCATED) !== 0,
        reward,
      });
      this.tail++;
      if (this.file !== null && this.file.bytes >= this.o.maxBytes) {
        await this.closeFile();
        await this.openFile();
      }
    }
  }

  /** Each camera's newest frame, when it is newer than the last one written (cameras run slower than the drain). */
  private async drainFrames(): Promise<void> {
    const latest = this.o.latestFrame;
    if (latest === null || this.steps === null) return;
    const cams = this.o.layout.cameras;
    for (let i = 0; i < cams.length; i++) {
      const f = latest(cams[i].name);
      if (f === null || !(f.stampMs > this.frameStamps[i])) continue;
      this.frameStamps[i] = f.stampMs;
      await this.steps.frame(i, this.stampNs(f.stampMs), f.rgb);
      this.framesWritten++;
    }
  }

  /** Stop draining, write what is left and finish the file (summary and index). */
  async close(): Promise<void> {
    if (this.timer !== null) clearInterval(this.timer);
    this.timer = null;
    await this.drain();
    await this.drain();
    try {
      await this.closeFile();
    } catch (err) {
      this.o.logger.error('MCAP recording could not be finished', { error: String((err as Error).message ?? err) });
    }
    this.o.logger.info('MCAP recording finished', { files: this.files, steps: this.tail, dropped: this.dropped });
  }
}
