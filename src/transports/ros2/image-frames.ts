// Camera frames from ROS 2: sensor_msgs/msg/Image (rgb8, bgr8, mono8) and sensor_msgs/msg/CompressedImage
// (jpeg, png) into the RGB frame of the camera's configured size, resized (nearest pixel) as they arrive, off
// the control tick. A frame that lies about its size, or comes in another encoding, is refused and counted; the
// previous frame stays. Compressed frames decode with @napi-rs/canvas, one at a time: while one decodes, newer
// ones replace the waiting one (the newest frame is the one that matters).
import { CdrReader } from './cdr.js';
import type { CameraFrame } from '../types.js';

export type ImageRejection = 'malformed' | 'bad_size' | 'bad_encoding';

/** One camera: its reused frame and how many frames were taken or refused. */
export class RosCameraChannel {
  readonly frame: CameraFrame;
  framesIn = 0;
  private decoding = false;
  private waiting: Uint8Array | null = null;

  constructor(readonly name: string, readonly width: number, readonly height: number) {
    this.frame = { camera: name, width, height, stampMs: 0, rgb: new Uint8Array(width * height * 3) };
  }

  /** A raw Image payload; null when taken. */
  acceptRaw(payload: Uint8Array): ImageRejection | null {
    let height: number, width: number, encoding: string, step: number, data: Uint8Array;
    try {
      const r = new CdrReader(payload);
      r.i32();
      r.u32();
      r.stringSpan(); // header
      height = r.u32();
      width = r.u32();
      encoding = r.string();
      r.u8(); // is_bigendian: irrelevant for 8-bit encodings
      step = r.u32();
      data = r.octets(r.sequenceLength(1, 'Image.data'));
    } catch {
      return 'malformed';
    }
    const channels = encoding === 'rgb8' || encoding === 'bgr8' ? 3 : encoding === 'mono8' ? 1 : 0;
    if (channels === 0) return 'bad_encoding';
    if (width < 1 || height < 1 || step < width * channels || data.length < step * height) return 'bad_size';
    const out = this.frame.rgb;
    const W = this.width;
    const H = this.height;
    for (let y = 0; y < H; y++) {
      const sy = Math.min(height - 1, Math.floor(((y + 0.5) * height) / H));
      for (let x = 0; x < W; x++) {
        const sx = Math.min(width - 1, Math.floor(((x + 0.5) * width) / W));
        const s = sy * step + sx * channels;
        const d = (y * W + x) * 3;
        if (channels === 1) {
          out[d] = out[d + 1] = out[d + 2] = data[s];
        } else if (encoding === 'rgb8') {
          out[d] = data[s]; out[d + 1] = data[s + 1]; out[d + 2] = data[s + 2];
        } else {
          out[d] = data[s + 2]; out[d + 1] = data[s + 1]; out[d + 2] = data[s];
        }
      }
    }
    this.frame.stampMs = performance.now();
    this.framesIn++;
    return null;
  }

  /**
   * A CompressedImage payload: checked here, decoded asynchronously; `onRejected` hears about a frame that
   * turns out not to decode. Returns a rejection for what is wrong before decoding.
   */
  acceptCompressed(payload: Uint8Array, onRejected: (why: ImageRejection) => void): ImageRejection | null {
    let format: string, data: Uint8Array;
    try {
      const r = new CdrReader(payload);
      r.i32();
      r.u32();
      r.stringSpan();
      format = r.string().toLowerCase();
      data = r.octets(r.sequenceLength(1, 'CompressedImage.data'));
    } catch {
      return 'malformed';
    }
    // ROS formats read "jpeg", "png", or "rgb8; jpeg compressed bgr8" (image_transport).
    if (!/(^|[\s;])(jpeg|jpg|png)\b/.test(format)) return 'bad_encoding';
    this.waiting = data.slice();
    if (!this.decoding) void this.decodeWaiting(onRejected);
    return null;
  }

  private async decodeWaiting(onRejected: (why: ImageRejection) => void): Promise<void> {
    this.decoding = true;
    const { createCanvas, loadImage } = await import('@napi-rs/canvas');
    const ctx = createCanvas(this.width, this.height).getContext('2d');
    while (this.waiting !== null) {
      const bytes = this.waiting;
      this.waiting = null;
      try {
        const image = await loadImage(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
        ctx.drawImage(image, 0, 0, this.width, this.height);
        const rgba = ctx.getImageData(0, 0, this.width, this.height).data;
        const rgb = this.frame.rgb;
        for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
          rgb[p] = rgba[q]; rgb[p + 1] = rgba[q + 1]; rgb[p + 2] = rgba[q + 2];
        }
        this.frame.stampMs = performance.now();
        this.framesIn++;
      } catch {
        onRejected('malformed');
      }
    }
    this.decoding = false;
  }
}
