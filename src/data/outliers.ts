import { existsSync, readFileSync } from 'node:fs';
import { AppError } from '../errors';
import { IMAGE_SIZE, PIXELS } from './mnist';
import type { Rng } from './rng';
import { toMnistInput } from '../image/preprocess';

/**
 * Pictures that are no digit, for outlier exposure in training (Hendrycks et al. 2019): the network
 * learns to spread its probability over the ten classes for them instead of answering one digit.
 * Two kinds:
 * - marks (letters, symbols, scribbles… of the tuned non-digit families) as the server's digit finder
 *   cuts them out of realistic uploads; rendered once into a file (src/train/outlier-marks.ts), because
 *   rendering a photo costs ~30 ms;
 * - pairs: two training digits side by side, touching or overlapping, squeezed into one digit's box, as
 *   the digit finder cuts out two touching digits of a number. Composed at each step from the run's own
 *   training images (never the validation split), so nothing of the split leaks.
 */

/** Ink above this (of 255) counts when a box of ink is measured. */
const INK = 20;
const WIDE = 64;

type InkBox = { x0: number; y0: number; x1: number; y1: number };

/** The box of the ink of a `width` × `height` picture at `offset` in `pixels`; undefined when blank. */
function inkBox(pixels: ArrayLike<number>, width: number, height: number, offset = 0): InkBox | undefined {
  let x0 = width, y0 = height, x1 = -1, y1 = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (pixels[offset + y * width + x] > INK) {
        if (x < x0) x0 = x;
        if (x > x1) x1 = x;
        if (y < y0) y0 = y;
        if (y > y1) y1 = y;
      }
    }
  }
  return x1 < 0 ? undefined : { x0, y0, x1, y1 };
}

const WHOLE: InkBox = { x0: 0, y0: 0, x1: IMAGE_SIZE - 1, y1: IMAGE_SIZE - 1 };

/**
 * Digits `a` and `b` of `images` written side by side, from 2 px apart to 6 px overlapping (at most 40%
 * of the narrower one), with a waver of the baseline, then cut out by the server's own recipe for one
 * mark (toMnistInput: longer side to 20 px, centred by mass in 28×28): the crop of two touching digits
 * that the network must not read as one digit. Written into `out` (784 bytes).
 */
export function composePair(images: Uint8Array, a: number, b: number, rng: Rng, out: Uint8Array): void {
  const canvas = new Float32Array(WIDE * IMAGE_SIZE);
  const ba = inkBox(images, IMAGE_SIZE, IMAGE_SIZE, a * PIXELS) ?? WHOLE, bb = inkBox(images, IMAGE_SIZE, IMAGE_SIZE, b * PIXELS) ?? WHOLE;
  // A narrow digit (a 1) lets its neighbour cover it at most 40%: two 1s on top of each other are one 1.
  const narrow = Math.min(ba.x1 - ba.x0 + 1, bb.x1 - bb.x0 + 1);
  const overlap = Math.min(Math.round(rng.uniform(-2, 6)), Math.floor(0.4 * narrow));
  const dy = Math.round(rng.uniform(-2, 2));
  const place = (index: number, box: InkBox, left: number, shiftY: number) => {
    const src = index * PIXELS;
    for (let y = box.y0; y <= box.y1; y++) {
      const cy = y + shiftY;
      if (cy < 0 || cy >= IMAGE_SIZE) continue;
      for (let x = box.x0; x <= box.x1; x++) {
        const cx = left + x - box.x0;
        if (cx < 0 || cx >= WIDE) continue;
        const v = images[src + y * IMAGE_SIZE + x];
        if (v > canvas[cy * WIDE + cx]) canvas[cy * WIDE + cx] = v;
      }
    }
  };
  place(a, ba, 0, 0);
  place(b, bb, Math.max(1, ba.x1 - ba.x0 + 1 - overlap), dy);
  out.fill(0);
  const box = inkBox(canvas, WIDE, IMAGE_SIZE);
  if (!box) return;
  const cw = box.x1 - box.x0 + 1, ch = box.y1 - box.y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) crop[y * cw + x] = canvas[(box.y0 + y) * WIDE + box.x0 + x] / 255;
  const input = new Float32Array(PIXELS);
  toMnistInput(crop, cw, ch, input);
  for (let i = 0; i < PIXELS; i++) out[i] = Math.round(input[i] * 255);
}

export interface OutlierMarkOptions {
  perFamily: number;
  /**
   * Seed of the rendered uploads: not the digit-score fit's (100), the uploads' tuning seed (1) or
   * their held-out seed (2), so that no evaluated or fitted picture is trained on.
   */
  seed: number;
  concurrency: number;
}

export const OUTLIER_MARK_DEFAULTS: Readonly<OutlierMarkOptions> = Object.freeze({ perFamily: 1000, seed: 300, concurrency: 4 });

/** An outlier-mark file: a magic word, the count, then count × 784 bytes (the model's input × 255). */
const MAGIC = 0x4d4b5231; // "MKR1"

export function encodeOutlierMarks(images: Uint8Array): Uint8Array {
  const count = images.length / PIXELS;
  const out = new Uint8Array(8 + images.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, MAGIC);
  view.setUint32(4, count);
  out.set(images, 8);
  return out;
}

export function readOutlierMarks(path: string): Uint8Array {
  if (!existsSync(path)) throw new AppError('TRAIN_OUTLIERS_MISSING', `no outlier marks at ${path}: run make outlier-marks`);
  const bytes = readFileSync(path);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (bytes.byteLength < 8 || view.getUint32(0) !== MAGIC || bytes.byteLength !== 8 + view.getUint32(4) * PIXELS) {
    throw new AppError('TRAIN_OUTLIERS_MISSING', `${path} is not an outlier-mark file (make outlier-marks writes one)`);
  }
  return new Uint8Array(bytes.buffer, bytes.byteOffset + 8, bytes.byteLength - 8);
}
