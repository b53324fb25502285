// Camera frame → PRM input tensor, as the model's metadata says (src/reward/metadata.ts):
//   crop (source pixels) → bilinear resize to width×height → channel order → value → layout
// with value = (pixel·scale − mean[c])/std[c] for float32 inputs and the rounded pixel for uint8 ones. mean and
// std are listed in the model's channel order (so for a bgr model, mean[0] is the blue channel's).
//
// Bilinear resize uses half-pixel centres (OpenCV INTER_LINEAR, PyTorch interpolate with align_corners=False,
// no antialiasing): output pixel i samples source coordinate (i + ½)·(in/out) − ½, clamped to the edge. A resize
// to the same size is the identity.
//
// Everything that depends only on sizes is resolved in the constructor (source offsets and weights per output
// row and column, per-channel affine), so write() allocates nothing and does no division.
import { StriatumError } from '../../errors.js';
import type { PrmMetadata } from '../metadata.js';

export type PixelTensor = Float32Array | Uint8Array;

export interface SourceSize {
  readonly width: number;
  readonly height: number;
}

export class FramePreprocessor {
  readonly sourceWidth: number;
  readonly sourceHeight: number;
  readonly width: number;
  readonly height: number;
  /** Values per frame: 3·width·height. */
  readonly frameSize: number;
  readonly dtype: 'uint8' | 'float32';
  readonly layout: 'nchw' | 'nhwc';
  // Per output column: byte offsets (within a source row) of the left and right samples, and the right weight.
  private readonly x0: Int32Array;
  private readonly x1: Int32Array;
  private readonly wx: Float32Array;
  // Per output row: byte offsets of the upper and lower source rows, and the lower weight.
  private readonly y0: Int32Array;
  private readonly y1: Int32Array;
  private readonly wy: Float32Array;
  /** Source channel feeding output channel k (rgb: k; bgr: 2 − k). */
  private readonly sourceChannel: Int32Array;
  private readonly gain: Float32Array; // scale/std[k]
  private readonly offset: Float32Array; // −mean[k]/std[k]
  // Element stride between output channels and between output pixels.
  private readonly channelStride: number;
  private readonly pixelStride: number;

  constructor(pre: PrmMetadata['preprocessing'], source: SourceSize, what = 'camera') {
    const crop = pre.crop ?? { x: 0, y: 0, width: source.width, height: source.height };
    if (crop.x + crop.width > source.width || crop.y + crop.height > source.height) {
      throw new StriatumError('STRIATUM_ERR_PRM_SHAPE', `${what}: preprocessing.crop ${crop.width}x${crop.height} at (${crop.x}, ${crop.y}) does not fit in a ${source.width}x${source.height} frame`);
    }
    this.sourceWidth = source.width;
    this.sourceHeight = source.height;
    this.width = pre.resize.width;
    this.height = pre.resize.height;
    this.frameSize = 3 * this.width * this.height;
    this.dtype = pre.dtype;
    this.layout = pre.layout;
    const rowBytes = 3 * source.width;

    this.x0 = new Int32Array(this.width);
    this.x1 = new Int32Array(this.width);
    this.wx = new Float32Array(this.width);
    for (let i = 0; i < this.width; i++) {
      const [a, b, w] = sample(i, crop.width, this.width);
      this.x0[i] = 3 * (crop.x + a);
      this.x1[i] = 3 * (crop.x + b);
      this.wx[i] = w;
    }
    this.y0 = new Int32Array(this.height);
    this.y1 = new Int32Array(this.height);
    this.wy = new Float32Array(this.height);
    for (let j = 0; j < this.height; j++) {
      const [a, b, w] = sample(j, crop.height, this.height);
      this.y0[j] = rowBytes * (crop.y + a);
      this.y1[j] = rowBytes * (crop.y + b);
      this.wy[j] = w;
    }
    this.sourceChannel = Int32Array.from(pre.channel_order === 'bgr' ? [2, 1, 0] : [0, 1, 2]);
    this.gain = new Float32Array(3);
    this.offset = new Float32Array(3);
    for (let k = 0; k < 3; k++) {
      this.gain[k] = pre.scale / pre.std[k];
      this.offset[k] = -pre.mean[k] / pre.std[k];
    }
    const pixels = this.width * this.height;
    this.channelStride = pre.layout === 'nchw' ? pixels : 1;
    this.pixelStride = pre.layout === 'nchw' ? 1 : 3;
  }

  /**
   * Preprocess one RGB frame (3 bytes a pixel, row-major, sourceWidth × sourceHeight) into
   * out[offset .. offset + frameSize). out must have the preprocessing's dtype.
   */
  write(rgb: Uint8Array, out: PixelTensor, offset: number): void {
    const W = this.width;
    const H = this.height;
    const cs = this.channelStride;
    const ps = this.pixelStride;
    const rounding = this.dtype === 'uint8';
    for (let k = 0; k < 3; k++) {
      const c = this.sourceChannel[k];
      const gain = this.gain[k];
      const bias = this.offset[k];
      let pixel = 0;
      for (let j = 0; j < H; j++) {
        const r0 = this.y0[j] + c;
        const r1 = this.y1[j] + c;
        const wy = this.wy[j];
        for (let i = 0; i < W; i++, pixel++) {
          const a = this.x0[i];
          const b = this.x1[i];
          const wx = this.wx[i];
          const top = rgb[r0 + a] + (rgb[r0 + b] - rgb[r0 + a]) * wx;
          const bottom = rgb[r1 + a] + (rgb[r1 + b] - rgb[r1 + a]) * wx;
          const v = top + (bottom - top) * wy;
          // A uint8 tensor stores the interpolated pixel, rounded (Uint8Array clamps); identity normalization is
          // guaranteed by the metadata check.
          out[offset + k * cs + pixel * ps] = rounding ? Math.round(v) : v * gain + bias;
        }
      }
    }
  }
}

/** Source samples for output index i of `out` taken from `size` inputs: [lower, upper, upper weight]. */
function sample(i: number, size: number, out: number): [number, number, number] {
  const x = (i + 0.5) * (size / out) - 0.5;
  if (x <= 0) return [0, 0, 0];
  if (x >= size - 1) return [size - 1, size - 1, 0];
  const lo = Math.floor(x);
  return [lo, lo + 1, x - lo];
}

/** Allocate a tensor buffer of the preprocessing's dtype. */
export function allocatePixels(dtype: 'uint8' | 'float32', length: number): PixelTensor {
  return dtype === 'uint8' ? new Uint8Array(length) : new Float32Array(length);
}

/**
 * The frames one view contributes to a model: a window of the last `window` preprocessed frames (oldest
 * first), and, where the model needs them, the episode's start frame and the frame of the previous update.
 * Before `window` frames have come in an episode, the oldest frame seen fills the missing places.
 */
export class FrameWindow {
  readonly window: number;
  readonly frameSize: number;
  /** Ring of preprocessed frames. */
  private readonly frames: PixelTensor[];
  readonly stamps: Float64Array;
  /** Frames pushed this episode. */
  count = 0;
  private head = 0; // index of the next frame to write
  /** The episode's first frame (preprocessed) and its stamp; valid when hasStart. */
  readonly start: PixelTensor;
  startStampMs = Number.NaN;
  hasStart = false;

  constructor(readonly preprocessor: FramePreprocessor, window: number, keepPrevious: boolean) {
    this.window = window;
    this.frameSize = preprocessor.frameSize;
    // One extra frame keeps the previous update's frame when the window is 1 (pairwise hop).
    const slots = keepPrevious ? Math.max(window, 2) : window;
    this.frames = [];
    for (let i = 0; i < slots; i++) this.frames.push(allocatePixels(preprocessor.dtype, this.frameSize));
    this.stamps = new Float64Array(slots);
    this.start = allocatePixels(preprocessor.dtype, this.frameSize);
  }

  reset(): void {
    this.count = 0;
    this.head = 0;
    this.hasStart = false;
    this.startStampMs = Number.NaN;
  }

  push(rgb: Uint8Array, stampMs: number): void {
    this.preprocessor.write(rgb, this.frames[this.head], 0);
    this.stamps[this.head] = stampMs;
    this.head = (this.head + 1) % this.frames.length;
    this.count++;
  }

  setStart(rgb: Uint8Array, stampMs: number): void {
    this.preprocessor.write(rgb, this.start, 0);
    this.startStampMs = stampMs;
    this.hasStart = true;
  }

  /** The k-th newest frame (0 = the newest), clamped to the oldest one kept this episode. */
  newest(k = 0): PixelTensor {
    return this.frames[this.slotOf(k)];
  }

  newestStampMs(k = 0): number {
    return this.stamps[this.slotOf(k)];
  }

  /** The window, oldest first, copied into out[offset ..). */
  copyWindow(out: PixelTensor, offset: number): void {
    for (let t = 0; t < this.window; t++) out.set(this.newest(this.window - 1 - t), offset + t * this.frameSize);
  }

  private slotOf(k: number): number {
    const kept = Math.min(this.count, this.frames.length);
    const back = k < kept ? k : kept - 1;
    const n = this.frames.length;
    return (((this.head - 1 - back) % n) + n) % n;
  }
}
