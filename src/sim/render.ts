// Camera images of the push task, drawn with @napi-rs/canvas into caller-visible RGB buffers (3 bytes a pixel).
// "top" sees the whole table; "wrist" sees a 0.3 m square centred on the pusher. Image rows run top to bottom,
// world y runs bottom to top, so the image is the table as seen from above with +y up.

import { writeFile } from 'node:fs/promises';
import { createCanvas, type Canvas, type SKRSContext2D } from '@napi-rs/canvas';
import { StriatumError } from '../errors.js';
import { BLOCK_HALF_SIZE_M, PAD_RADIUS_M, PUSHER_RADIUS_M, TABLE_SIZE_M, type PushWorld } from './push-world.js';

export type SimCameraName = 'top' | 'wrist';
export const SIM_CAMERA_NAMES: readonly SimCameraName[] = ['top', 'wrist'];

export interface SimCameraView {
  readonly name: SimCameraName;
  readonly width: number;
  readonly height: number;
}

export const DEFAULT_CAMERA_SIZE_PX = 96;
/** Side of the square the wrist camera sees, centred on the pusher (m). */
export const WRIST_VIEW_SIZE_M = 0.3;

export type Rgb = readonly [number, number, number];
export const FLOOR_RGB: Rgb = [70, 70, 70];
export const TABLE_RGB: Rgb = [200, 200, 200];
export const PAD_RGB: readonly Rgb[] = [[60, 170, 70], [225, 200, 50]]; // green, yellow
export const BLOCK_RGB: readonly Rgb[] = [[210, 40, 40], [40, 70, 210]]; // red, blue
export const PUSHER_RGB: Rgb = [35, 35, 35];

function cssColor(c: Rgb): string {
  return `rgb(${c[0]},${c[1]},${c[2]})`;
}
// Built once: the draw calls below then assign constant strings and never format one.
const FLOOR_CSS = cssColor(FLOOR_RGB);
const TABLE_CSS = cssColor(TABLE_RGB);
const PAD_CSS = PAD_RGB.map(cssColor);
const BLOCK_CSS = BLOCK_RGB.map(cssColor);
const PUSHER_CSS = cssColor(PUSHER_RGB);

/** The world square a camera sees: out[0] = left x, out[1] = bottom y, out[2] = side (m). */
export function cameraWindow(name: SimCameraName, world: PushWorld, out: Float64Array): void {
  if (name === 'top') {
    out[0] = 0;
    out[1] = 0;
    out[2] = TABLE_SIZE_M;
  } else {
    out[0] = world.pusherPosition[0] - WRIST_VIEW_SIZE_M / 2;
    out[1] = world.pusherPosition[1] - WRIST_VIEW_SIZE_M / 2;
    out[2] = WRIST_VIEW_SIZE_M;
  }
}

/** Where world point (x, y) lands in a width x height image: out[0] = column, out[1] = row (fractional). */
export function projectToPixel(
  name: SimCameraName, world: PushWorld, width: number, height: number, x: number, y: number, out: Float64Array,
): void {
  cameraWindow(name, world, out);
  const x0 = out[0];
  const y0 = out[1];
  const side = out[2];
  out[0] = ((x - x0) / side) * width;
  out[1] = ((y0 + side - y) / side) * height;
}

/** One camera: its canvas, and the RGB buffer it renders into (reused for every frame). */
export class PushCamera {
  readonly name: SimCameraName;
  readonly width: number;
  readonly height: number;
  /** The latest image, RGB, row-major, overwritten by every render(). */
  readonly rgb: Uint8Array;
  private readonly canvas: Canvas;
  private readonly ctx: SKRSContext2D;
  private readonly window = new Float64Array(3);

  constructor(name: SimCameraName, width: number, height: number) {
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `camera ${name}: size must be positive integers, got ${width}x${height}`);
    }
    this.name = name;
    this.width = width;
    this.height = height;
    this.rgb = new Uint8Array(width * height * 3);
    this.canvas = createCanvas(width, height);
    this.ctx = this.canvas.getContext('2d', { alpha: false });
  }

  /** Draw the current state of `world` and copy the pixels into this.rgb. */
  render(world: PushWorld): void {
    this.draw(world);
    // canvas.data() returns a fresh RGBA copy (the binding has no read-into-buffer call): one allocation per
    // rendered frame, at the camera rate rather than the control rate.
    const rgba = this.canvas.data();
    const rgb = this.rgb;
    const pixels = this.width * this.height;
    for (let i = 0, j = 0; i < pixels; i++, j += 4) {
      rgb[3 * i] = rgba[j];
      rgb[3 * i + 1] = rgba[j + 1];
      rgb[3 * i + 2] = rgba[j + 2];
    }
  }

  /** PNG of the last drawn image. */
  encodePng(): Promise<Buffer> {
    return this.canvas.encode('png');
  }

  private draw(world: PushWorld): void {
    const ctx = this.ctx;
    const w = this.width;
    const h = this.height;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.fillStyle = FLOOR_CSS;
    ctx.fillRect(0, 0, w, h);

    // From here on, draw in world metres: x right, y up.
    cameraWindow(this.name, world, this.window);
    const x0 = this.window[0];
    const y0 = this.window[1];
    const side = this.window[2];
    ctx.setTransform(w / side, 0, 0, -h / side, (-x0 * w) / side, ((y0 + side) * h) / side);

    ctx.fillStyle = TABLE_CSS;
    ctx.fillRect(0, 0, TABLE_SIZE_M, TABLE_SIZE_M);

    for (let k = 0; k < 2; k++) {
      ctx.fillStyle = PAD_CSS[k];
      ctx.beginPath();
      ctx.arc(world.padPositions[2 * k], world.padPositions[2 * k + 1], PAD_RADIUS_M, 0, 2 * Math.PI);
      ctx.fill();
    }

    const a = BLOCK_HALF_SIZE_M;
    for (let i = 0; i < 2; i++) {
      const cx = world.blockPositions[2 * i];
      const cy = world.blockPositions[2 * i + 1];
      const c = Math.cos(world.blockAngles[i]);
      const s = Math.sin(world.blockAngles[i]);
      // Corners (±a, ±a) rotated by the body angle.
      ctx.fillStyle = BLOCK_CSS[i];
      ctx.beginPath();
      ctx.moveTo(cx + a * c - a * s, cy + a * s + a * c);
      ctx.lineTo(cx - a * c - a * s, cy - a * s + a * c);
      ctx.lineTo(cx - a * c + a * s, cy - a * s - a * c);
      ctx.lineTo(cx + a * c + a * s, cy + a * s - a * c);
      ctx.closePath();
      ctx.fill();
    }

    ctx.fillStyle = PUSHER_CSS;
    ctx.beginPath();
    ctx.arc(world.pusherPosition[0], world.pusherPosition[1], PUSHER_RADIUS_M, 0, 2 * Math.PI);
    ctx.fill();
  }
}

/**
 * Render one camera view of `world` to a PNG file. `camera` is a name (96x96) or a view with its own size.
 * Throws StriatumError STRIATUM_ERR_IO when the file cannot be written.
 */
export async function renderToPng(world: PushWorld, camera: SimCameraName | SimCameraView, path: string): Promise<void> {
  const view: SimCameraView =
    typeof camera === 'string' ? { name: camera, width: DEFAULT_CAMERA_SIZE_PX, height: DEFAULT_CAMERA_SIZE_PX } : camera;
  if (!SIM_CAMERA_NAMES.includes(view.name)) {
    throw new StriatumError('STRIATUM_ERR_USAGE', `unknown sim camera "${String(view.name)}" (expected top or wrist)`);
  }
  const cam = new PushCamera(view.name, view.width, view.height);
  cam.render(world);
  const png = await cam.encodePng();
  try {
    await writeFile(path, png);
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot write ${path}: ${(err as Error).message}`, [], { cause: err });
  }
}
