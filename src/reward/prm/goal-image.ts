// Goal images for pairwise three-way fusion and VIP-style embedding goals: a picture of the finished task as a
// camera sees it, loaded once at start-up as RGB bytes of that camera's size (so the camera's crop applies).
// PNG and JPEG decode with @napi-rs/canvas; a .npy file holds [H, W, 3] values 0–255 (float32 or int32).
import { readFileSync } from 'node:fs';
import { createCanvas, loadImage } from '@napi-rs/canvas';
import { StriatumError } from '../../errors.js';
import { readNpy } from '../../util/npy.js';

export async function loadGoalImage(path: string, width: number, height: number, camera: string): Promise<Uint8Array> {
  const rgb = new Uint8Array(width * height * 3);
  if (path.toLowerCase().endsWith('.npy')) {
    const { data, shape } = readNpy(path);
    if (shape.length !== 3 || shape[0] !== height || shape[1] !== width || shape[2] !== 3) {
      throw new StriatumError('STRIATUM_ERR_CONFIG', `goal image ${path} has shape [${shape.join(', ')}]; camera '${camera}' needs [${height}, ${width}, 3]`);
    }
    for (let i = 0; i < rgb.length; i++) rgb[i] = Math.max(0, Math.min(255, Math.round(data[i])));
    return rgb;
  }
  let image: Awaited<ReturnType<typeof loadImage>>;
  try {
    image = await loadImage(readFileSync(path));
  } catch (err) {
    throw new StriatumError('STRIATUM_ERR_IO', `cannot read goal image ${path}: ${(err as Error).message}`);
  }
  if (image.width !== width || image.height !== height) {
    throw new StriatumError('STRIATUM_ERR_CONFIG', `goal image ${path} is ${image.width}x${image.height}; camera '${camera}' gives ${width}x${height} frames`);
  }
  const ctx = createCanvas(width, height).getContext('2d');
  ctx.drawImage(image, 0, 0);
  const rgba = ctx.getImageData(0, 0, width, height).data;
  for (let p = 0, q = 0; p < rgb.length; p += 3, q += 4) {
    rgb[p] = rgba[q];
    rgb[p + 1] = rgba[q + 1];
    rgb[p + 2] = rgba[q + 2];
  }
  return rgb;
}
