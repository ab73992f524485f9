import { Jimp } from 'jimp';
import { IMAGE_SIZE, PIXELS } from '../../src/data/mnist';
import type { Bitmap } from '../../src/image/bitmap';

/** One MNIST image (0 = background) as an RGBA bitmap, optionally inverted and scaled by an integer factor. */
export function mnistBitmap(pixels: Uint8Array, index: number, opts: { invert?: boolean; scale?: number; canvas?: number; offset?: [number, number] } = {}): Bitmap {
  const scale = opts.scale ?? 1;
  const size = opts.canvas ?? IMAGE_SIZE * scale;
  const [ox, oy] = opts.offset ?? [0, 0];
  const data = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) {
    const bg = opts.invert ? 255 : 0;
    data.set([bg, bg, bg, 255], i * 4);
  }
  for (let y = 0; y < IMAGE_SIZE * scale; y++) {
    for (let x = 0; x < IMAGE_SIZE * scale; x++) {
      const v = pixels[index * PIXELS + Math.floor(y / scale) * IMAGE_SIZE + Math.floor(x / scale)];
      const g = opts.invert ? 255 - v : v;
      const p = ((y + oy) * size + x + ox) * 4;
      data.set([g, g, g, 255], p);
    }
  }
  return { width: size, height: size, data };
}

/** A canvas export: transparent background, the digit as dark-blue strokes whose alpha is the ink. */
export function canvasBitmap(pixels: Uint8Array, index: number, scale = 10): Bitmap {
  const size = IMAGE_SIZE * scale;
  const data = new Uint8Array(size * size * 4);
  for (let y = 0; y < size; y++) {
    for (let x = 0; x < size; x++) {
      const v = pixels[index * PIXELS + Math.floor(y / scale) * IMAGE_SIZE + Math.floor(x / scale)];
      data.set([20, 30, 120, v], (y * size + x) * 4);
    }
  }
  return { width: size, height: size, data };
}

export async function encode(bitmap: Bitmap, mime: 'image/png' | 'image/jpeg' | 'image/bmp' | 'image/gif' | 'image/tiff'): Promise<Buffer> {
  const img = new Jimp({ width: bitmap.width, height: bitmap.height });
  img.bitmap.data.set(bitmap.data);
  return img.getBuffer(mime as 'image/png');
}

export function correlation(a: Float32Array, b: Float32Array): number {
  const n = a.length;
  const ma = a.reduce((s, v) => s + v, 0) / n;
  const mb = b.reduce((s, v) => s + v, 0) / n;
  let num = 0, da = 0, db = 0;
  for (let i = 0; i < n; i++) { num += (a[i] - ma) * (b[i] - mb); da += (a[i] - ma) ** 2; db += (b[i] - mb) ** 2; }
  return num / Math.sqrt(da * db);
}
