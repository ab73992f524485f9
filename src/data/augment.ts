import { IMAGE_SIZE, PIXELS } from './mnist';
import { Rng } from './rng';
import { CORRUPTION_KINDS, corrupt, sample } from './corruptions';

export interface AugmentConfig {
  maxShift: number; // pixels, each axis
  maxRotation: number; // degrees, either way
  maxScale: number; // relative, e.g. 0.1 → ×0.9 … ×1.1
  thicknessProb: number; // probability of thickening or thinning the strokes
  elasticProb: number; // probability of an elastic distortion (Simard et al. 2003)
  elasticAlpha: number; // pixels: scale of the smoothed random displacement field
  elasticSigma: number; // pixels: standard deviation of the Gaussian that smooths it
  corruptProb: number; // probability of one kind of damage from data/corruptions.ts, drawn uniformly
}

export const AUGMENT_DEFAULTS: Readonly<AugmentConfig> = Object.freeze({
  maxShift: 2,
  maxRotation: 12,
  maxScale: 0.1,
  thicknessProb: 0.3,
  elasticProb: 0.5,
  elasticAlpha: 34,
  elasticSigma: 4,
  corruptProb: 0.3,
});

const kernels = new Map<number, Float32Array>();

/** A normalised 1-D Gaussian of standard deviation `sigma`, radius 3σ. */
function gaussian(sigma: number): Float32Array {
  let k = kernels.get(sigma);
  if (!k) {
    const radius = Math.ceil(3 * sigma);
    k = new Float32Array(2 * radius + 1);
    let sum = 0;
    for (let i = -radius; i <= radius; i++) sum += k[i + radius] = Math.exp(-(i * i) / (2 * sigma * sigma));
    for (let i = 0; i < k.length; i++) k[i] /= sum;
    kernels.set(sigma, k);
  }
  return k;
}

/** Separable Gaussian blur of a 28×28 field in place, zero outside. */
function smooth(field: Float32Array, k: Float32Array): void {
  const radius = (k.length - 1) / 2;
  const tmp = new Float32Array(PIXELS);
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      let v = 0;
      for (let i = Math.max(-radius, -x); i <= Math.min(radius, IMAGE_SIZE - 1 - x); i++) v += k[i + radius] * field[y * IMAGE_SIZE + x + i];
      tmp[y * IMAGE_SIZE + x] = v;
    }
  }
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      let v = 0;
      for (let i = Math.max(-radius, -y); i <= Math.min(radius, IMAGE_SIZE - 1 - y); i++) v += k[i + radius] * tmp[(y + i) * IMAGE_SIZE + x];
      field[y * IMAGE_SIZE + x] = v;
    }
  }
}

/**
 * A displacement field as Simard et al. (2003) draw it: uniform noise in [-1, 1] per pixel and axis,
 * smoothed by a Gaussian of `sigma` and scaled by `alpha`; small sigma gives random noise, large sigma
 * nearly a translation, and σ≈4 a handwriting-like wobble.
 */
function elasticField(rng: Rng, alpha: number, sigma: number): { dx: Float32Array; dy: Float32Array } {
  const dx = new Float32Array(PIXELS);
  const dy = new Float32Array(PIXELS);
  for (let i = 0; i < PIXELS; i++) {
    dx[i] = rng.uniform(-1, 1);
    dy[i] = rng.uniform(-1, 1);
  }
  const k = gaussian(sigma);
  smooth(dx, k);
  smooth(dy, k);
  for (let i = 0; i < PIXELS; i++) {
    dx[i] *= alpha;
    dy[i] *= alpha;
  }
  return { dx, dy };
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
 * Writes a randomly shifted, rotated, scaled, elastically distorted, thickened/thinned and sometimes
 * damaged (noise, blur, fog, lines, inverted bands, outlines…) copy of image `index` of `images`
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
  const elastic = cfg.elasticProb > 0 && rng.next() < cfg.elasticProb ? elasticField(rng, cfg.elasticAlpha, cfg.elasticSigma) : null;
  const c = (IMAGE_SIZE - 1) / 2;
  const cos = Math.cos(angle) / scale;
  const sin = Math.sin(angle) / scale;
  const src = index * PIXELS;
  const dst = outIndex * PIXELS;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    for (let x = 0; x < IMAGE_SIZE; x++) {
      // Inverse mapping: where in the source does this output pixel come from? The elastic field moves
      // the output pixel before the affine map takes it back to the source.
      const dx = x - c - tx + (elastic ? elastic.dx[y * IMAGE_SIZE + x] : 0);
      const dy = y - c - ty + (elastic ? elastic.dy[y * IMAGE_SIZE + x] : 0);
      out[dst + y * IMAGE_SIZE + x] = sample(images, cos * dx + sin * dy + c, -sin * dx + cos * dy + c, src) / 255;
    }
  }
  if (morphDraw < cfg.thicknessProb) morph(out, dst, dilate);
  if (cfg.corruptProb > 0 && rng.next() < cfg.corruptProb) {
    corrupt(out.subarray(dst, dst + PIXELS), CORRUPTION_KINDS[rng.int(CORRUPTION_KINDS.length)], rng);
  }
}

/** Copies image `index` into `out` at `outIndex` as floats in [0,1], unchanged. */
export function copyInto(images: Uint8Array, index: number, out: Float32Array, outIndex: number): void {
  const src = index * PIXELS;
  const dst = outIndex * PIXELS;
  for (let i = 0; i < PIXELS; i++) out[dst + i] = images[src + i] / 255;
}
