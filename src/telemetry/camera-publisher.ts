// Camera frames for dashboards: at a low configured rate, each camera's latest frame is encoded as JPEG
// (@napi-rs/canvas encodes on libuv's thread pool) and published on striatum/v1/{robot}/camera/{name}. Runs on
// its own timer, off the control tick; a frame still encoding when the next is due is skipped, not queued.
import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import type { Logger } from '../log.js';
import type { CameraFrame } from '../transports/types.js';

export interface CameraFramesConfig {
  readonly hz: number;
  readonly quality: number;
  /** Camera names; empty: every camera. */
  readonly cameras: readonly string[];
}

interface CameraSlot {
  readonly name: string;
  canvas: Canvas | null;
  ctx: SKRSContext2D | null;
  encoding: boolean;
  lastStampMs: number;
}

export interface CameraOutlet {
  publishCameraFrame(camera: string, jpeg: Buffer): void;
  readonly connected: boolean;
}

export class CameraPublisher {
  private readonly slots: CameraSlot[];
  private readonly timer: NodeJS.Timeout;
  /** Frames published and skipped (previous encode still running, or no new frame), for tests and logs. */
  published = 0;
  skipped = 0;

  constructor(
    config: CameraFramesConfig,
    available: readonly string[],
    private readonly frames: { latestFrame(camera: string): CameraFrame | null },
    private readonly outlet: CameraOutlet,
    private readonly logger: Logger,
  ) {
    const names = config.cameras.length === 0 ? available : config.cameras.filter((c) => available.includes(c));
    const unknown = config.cameras.filter((c) => !available.includes(c));
    if (unknown.length > 0) logger.warn('mqtt.camera_frames names cameras the robot does not have; they are skipped', { unknown, available });
    this.slots = names.map((name) => ({ name, canvas: null, ctx: null, encoding: false, lastStampMs: -1 }));
    this.timer = setInterval(() => { for (const slot of this.slots) this.publish(slot, config.quality); }, 1000 / config.hz);
    this.timer.unref();
  }

  private publish(slot: CameraSlot, quality: number): void {
    const frame = this.frames.latestFrame(slot.name);
    if (frame === null || !this.outlet.connected || slot.encoding || frame.stampMs === slot.lastStampMs) {
      this.skipped++;
      return;
    }
    slot.lastStampMs = frame.stampMs;
    if (slot.canvas === null || slot.canvas.width !== frame.width || slot.canvas.height !== frame.height) {
      slot.canvas = createCanvas(frame.width, frame.height);
      slot.ctx = slot.canvas.getContext('2d');
    }
    const ctx = slot.ctx as SKRSContext2D;
    const image = ctx.createImageData(frame.width, frame.height);
    const rgb = frame.rgb;
    const rgba = image.data;
    for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
      rgba[q] = rgb[p] as number;
      rgba[q + 1] = rgb[p + 1] as number;
      rgba[q + 2] = rgb[p + 2] as number;
      rgba[q + 3] = 255;
    }
    ctx.putImageData(image, 0, 0);
    slot.encoding = true;
    (slot.canvas as Canvas).encode('jpeg', quality).then((jpeg) => {
      this.outlet.publishCameraFrame(slot.name, jpeg);
      this.published++;
    }, (err: unknown) => {
      this.logger.warn('camera frame could not be encoded', { camera: slot.name, error: String(err) });
    }).finally(() => { slot.encoding = false; });
  }

  close(): void {
    clearInterval(this.timer);
  }
}
