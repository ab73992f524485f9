import { IMAGE_SIZE, PIXELS } from './mnist';
import { Rng } from './rng';

export interface AugmentConfig {
  maxShift: number; // pixels, each axis
  maxRotation: number; // degrees, either way
  maxScale: number; // relative, e.g. 0.1 → ×0.9 … ×1.1
  thicknessProb: number; // probability of thickening or thinning the strokes
}

export const AUGMENT_DEFAULTS: Readonly<AugmentConfig> = Object.freeze({
  maxShift: 2,
  maxRotation: 12,
  maxScale: 0.1,
  thicknessProb: 0.3,
});

function sample(src: Uint8Array, off: number, x: number, y: number): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  const at = (xx: number, yy: number) =>
    xx < 0 || yy < 0 || xx >= IMAGE_SIZE || yy >= IMAGE_SIZE ? 0 : src[off + yy * IMAGE_SIZE + xx];
  return (at(x0, y0) * (1 - fx) + at(x0 + 1, y0) * fx) * (1 - fy) + (at(x0, y0 + 1) * (1 - fx) + at(x0 + 1, y0 + 1) * fx) * fy;
}

/** 3×3 grey dilation (thicker strokes) or erosion (thinner) of a [0,1] image. */
function morph(img: Float32Array, off: number, dilate: boolean): void {
  const copy = img.slice(off, off + PIXELS);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      let v = copy[y * IMAGE_SIZE + x];
      for (let dy = -1; dy <= 1; dy++) {
        for (let dx = -1; dx <= 1; dx++) {
          if (dx !== 0 && dy !== 0) continue; // plus-shaped element: a gentler change than 3×3
          const yy = y + dy;
          const xx = x + dx;
          const n = yy < 0 || xx < 0 || yy >= IMAGE_SIZE || xx >= IMAGE_SIZE ? 0 : copy[yy * IMAGE_SIZE + xx];
          v = dilate ? Math.max(v, n) : Math.min(v, n);
        }
      }
      img[off + y * IMAGE_SIZE + x] = v;
    }
  }
}

/**
 * Writes a randomly shifted, rotated, scaled and thickened/thinned copy of image `index` of `images`
 * into `out` at `outIndex`, as floats in [0,1]. Labels are unchanged by construction. The same rng
 * state gives the same result.
 */
export function augmentInto(images: Uint8Array, index: number, out: Float32Array, outIndex: number, rng: Rng, cfg: AugmentConfig = AUGMENT_DEFAULTS): void {
  const angle = (rng.uniform(-cfg.maxRotation, cfg.maxRotation) * Math.PI) / 180;
  const scale = 1 + rng.uniform(-cfg.maxScale, cfg.maxScale);
  const tx = rng.uniform(-cfg.maxShift, cfg.maxShift);
  const ty = rng.uniform(-cfg.maxShift, cfg.maxShift);
  const morphDraw = rng.next();
  const dilate = rng.next() < 0.5;
  const c = (IMAGE_SIZE - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const src = index * PIXELS;
  const dst = outIndex * PIXELS;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      // Inverse mapping: where in the source does this output pixel come from?
      const dx = x - c - tx;
      const dy = y - c - ty;
      out[dst + y * IMAGE_SIZE + x] = sample(images, src, cos * dx + sin * dy + c, -sin * dx + cos * dy + c) / 255;
    }
  }
  if (morphDraw < cfg.thicknessProb) morph(out, dst, dilate);
}

/** Copies image `index` into `out` at `outIndex` as floats in [0,1], unchanged. */
export function copyInto(images: Uint8Array, index: number, out: Float32Array, outIndex: number): void {
  const src = index * PIXELS;
  const dst = outIndex * PIXELS;
  for (let i = 0; i < PIXELS; i++) out[dst + i] = images[src + i] / 255;
}
