// The robot's rollout path in one handle: spool (worker thread, disk), recorder (called by the control loop)
// and publisher (its own MQTT connection). Started in that order, stopped in reverse, so the last chunk of an
// open episode is on disk before the connection goes.
import type { ObservationField } from '../control/observation.js';
import type { Logger } from '../log.js';
import type { RewardStep } from '../reward/reward-step.js';
import type { CameraFrame } from '../transports/types.js';
import { RolloutConfigSchema, type RolloutConfig } from './config.js';
import { RolloutPublisher, type PublisherStats } from './publisher.js';
import { Recorder, type RecorderStats } from './recorder.js';
import { Spool, type SpoolStats } from './spool.js';

export interface RolloutServiceOptions {
  readonly robotId: string;
  readonly task: string;
  readonly observationFields: readonly ObservationField[];
  readonly joints: readonly string[];
  readonly policyVersion: string | null;
  /** performance.timeOrigin under the realtime clock; null under virtual time. */
  readonly stampOriginUnixMs: number | null;
  /** The rollout section of the robot config (defaults filled in when partial). */
  readonly config: Partial<RolloutConfig> | RolloutConfig;
  /** Absolute spool directory (the runtime resolves config.spool_dir against the config file). */
  readonly spoolDir: string;
  readonly mqtt: { readonly url: string; readonly username: string; readonly password: string; readonly keepaliveS?: number; readonly clientId?: string };
  /** Newest frame of a camera (transport.latestFrame), when config.camera is set. */
  readonly latestFrame?: (camera: string) => CameraFrame | null;
  readonly logger: Logger;
  readonly runId?: string;
  /** The reward pipeline's per-step record, read by the recorder as a sink (RecorderOptions.reward). */
  readonly reward?: RewardStep | null;
}

export interface RolloutStats {
  recorder: RecorderStats;
  publisher: PublisherStats;
  spool: SpoolStats & { usedBytes: number; maxBytes: number; backlogChunks: number };
  recording: boolean;
}

export class RolloutService {
  private readonly idleTimer: NodeJS.Timeout;
  private closed = false;

  private constructor(readonly spool: Spool, readonly recorder: Recorder, readonly publisher: RolloutPublisher, private readonly log: Logger, chunkMs: number) {
    this.idleTimer = setInterval(() => recorder.flushIfIdle(), chunkMs);
    this.idleTimer.unref();
  }

  static async start(o: RolloutServiceOptions): Promise<RolloutService> {
    const cfg = RolloutConfigSchema.parse(o.config);
    const log = o.logger;
    const spool = await Spool.open({ dir: o.spoolDir, maxBytes: Math.floor(cfg.max_spool_mb * 1024 * 1024), compression: cfg.compression, logger: log });
    let recorder: Recorder;
    try {
      const cam = cfg.camera;
      const latest = o.latestFrame;
      recorder = new Recorder({
        robotId: o.robotId, task: o.task, observationFields: o.observationFields, joints: o.joints,
        chunkSteps: cfg.chunk_steps, chunkMs: cfg.chunk_ms, spool, policyVersion: o.policyVersion,
        stampOriginUnixMs: o.stampOriginUnixMs, maxChunkBytes: cfg.max_chunk_bytes, buffers: cfg.buffers, logger: log, runId: o.runId,
        reward: o.reward ?? null,
        camera: cam === null || latest === undefined ? null : {
          name: cam.name, width: cam.width, height: cam.height, channels: cam.channels, everySteps: cam.every_steps,
          latest: () => latest(cam.name),
        },
      });
    } catch (err) {
      await spool.close();
      throw err;
    }
    const publisher = new RolloutPublisher({
      url: o.mqtt.url, username: o.mqtt.username, password: o.mqtt.password, robotId: o.robotId, spool, logger: log,
      ackTimeoutMs: cfg.ack_timeout_ms, ackTimeoutMaxMs: cfg.ack_timeout_max_ms, maxInflight: cfg.max_inflight, memoryBudgetBytes: Math.floor(cfg.memory_budget_mb * 1024 * 1024),
      reconnectMinMs: cfg.reconnect_min_ms, reconnectMaxMs: cfg.reconnect_max_ms, keepaliveS: o.mqtt.keepaliveS ?? 30,
      clientId: o.mqtt.clientId,
    });
    recorder.onAlarm = (a) => publisher.publishAlarm(a);
    log.info('rollout recording started', { run: recorder.runId, chunk_steps: cfg.chunk_steps, compression: cfg.compression, backlog_chunks: publisher.backlog });
    return new RolloutService(spool, recorder, publisher, log, cfg.chunk_ms);
  }

  stats(): RolloutStats {
    return {
      recorder: { ...this.recorder.stats },
      publisher: { ...this.publisher.stats },
      spool: { ...this.spool.stats, usedBytes: this.spool.usedBytes, maxBytes: this.spool.options.maxBytes, backlogChunks: this.publisher.backlog },
      recording: this.recorder.recording,
    };
  }

  /**
   * Close the open episode (final chunk, outcome aborted), wait for it to reach the disk, give the updater up
   * to drainMs to acknowledge what is outstanding (the rest stays spooled for the next start), then disconnect.
   */
  async close(reason: string, drainMs = 2000): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.idleTimer);
    this.recorder.close(reason);
    // A disk that fails every write must not hold shutdown forever; spool.close() reports what was lost.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.spool.flushed(), new Promise<void>((r) => { timer = setTimeout(r, 10_000); })]);
    clearTimeout(timer);
    const drained = drainMs > 0 ? await this.publisher.drain(drainMs) : this.publisher.backlog === 0;
    if (!drained) this.log.info('rollout chunks left in the spool for the next start', { chunks: this.publisher.backlog });
    await this.publisher.close();
    await this.spool.close();
  }
}
