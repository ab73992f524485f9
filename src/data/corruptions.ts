import { IMAGE_SIZE, PIXELS } from './mnist';
import { Rng } from './rng';

/**
 * Fifteen kinds of damage that pictures of digits suffer, on 28×28 MNIST-polarity images (white ink on
 * black, floats in [0, 1]), each drawn at a random severity from its range. The kinds follow MNIST-C
 * (Mu & Gilmer 2019), written here from their descriptions. The same functions make the corrupted test
 * set (`make evaluate-corrupted`, fixed seed) and the training augmentation (other seeds).
 */
export const CORRUPTION_KINDS = [
  'shot-noise', 'impulse-noise', 'glass-blur', 'motion-blur', 'shear', 'scale', 'rotate', 'brightness',
  'translate', 'stripe', 'fog', 'spatter', 'dotted-line', 'zigzag', 'outline',
] as const;
export type CorruptionKind = (typeof CORRUPTION_KINDS)[number];

const N = IMAGE_SIZE;
const clamp01 = (v: number) => (v < 0 ? 0 : v > 1 ? 1 : v);

/** Pixel (x, y) of the 28×28 image that starts at `off` in `img`, 0 outside. */
function at(img: ArrayLike<number>, x: number, y: number, off = 0): number {
  return x < 0 || y < 0 || x >= N || y >= N ? 0 : img[off + y * N + x];
}

/** Bilinear sample of the 28×28 image at `off` in `img` at a fractional position, 0 outside. */
export function sample(img: ArrayLike<number>, x: number, y: number, off = 0): number {
  const x0 = Math.floor(x);
  const y0 = Math.floor(y);
  const fx = x - x0;
  const fy = y - y0;
  return (at(img, x0, y0, off) * (1 - fx) + at(img, x0 + 1, y0, off) * fx) * (1 - fy)
    + (at(img, x0, y0 + 1, off) * (1 - fx) + at(img, x0 + 1, y0 + 1, off) * fx) * fy;
}

/** Replaces img by its image under the inverse map `from` (output pixel → source position). */
function warp(img: Float32Array, from: (x: number, y: number) => [number, number]): void {
  const src = img.slice();
  for (let y = 0; y < N; y++) {
    for (let x = 0; x < N; x++) {
      const [sx, sy] = from(x, y);
      img[y * N + x] = sample(src, sx, sy);
    }
  }
}

/** Separable Gaussian blur in place, zero outside. */
function blur(img: Float32Array, sigma: number): void {
  const r = Math.max(1, Math.ceil(2.5 * sigma));
  const k = Array.from({ length: 2 * r + 1 }, (_, i) => Math.exp(-((i - r) ** 2) / (2 * sigma * sigma)));
  const sum = k.reduce((a, b) => a + b, 0);
  const tmp = new Float32Array(PIXELS);
  for (let pass = 0; pass < 2; pass++) {
    const src = pass === 0 ? img.slice() : tmp.slice();
    const dst = pass === 0 ? tmp : img;
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        let v = 0;
        for (let i = -r; i <= r; i++) v += k[i + r] * (pass === 0 ? at(src, x + i, y) : at(src, x, y + i));
        dst[y * N + x] = v / sum;
      }
    }
  }
}

/** Smooth random field in [0, 1]: octaves of blurred noise (a stand-in for plasma fractals). */
function cloud(rng: Rng): Float32Array {
  const out = new Float32Array(PIXELS);
  for (const [sigma, weight] of [[6, 1], [3, 0.5], [1.5, 0.25]]) {
    const layer = new Float32Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) layer[i] = rng.next();
    blur(layer, sigma);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of layer) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    for (let i = 0; i < PIXELS; i++) out[i] += (weight * (layer[i] - lo)) / Math.max(1e-6, hi - lo);
  }
  let hi = 0;
  for (const v of out) hi = Math.max(hi, v);
  for (let i = 0; i < PIXELS; i++) out[i] /= hi;
  return out;
}

/** Draws a 1-px anti-aliased segment of ink onto img (max with what is there). */
function segment(img: Float32Array, x0: number, y0: number, x1: number, y1: number, ink: number, every = 1, dash = 1): void {
  const len = Math.hypot(x1 - x0, y1 - y0);
  const steps = Math.ceil(len * 2);
  for (let s = 0; s <= steps; s++) {
    const along = (s / steps) * len;
    if (every > 1 && along % every >= dash) continue;
    const x = x0 + ((x1 - x0) * s) / steps;
    const y = y0 + ((y1 - y0) * s) / steps;
    const xi = Math.round(x);
    const yi = Math.round(y);
    if (xi >= 0 && yi >= 0 && xi < N && yi < N) img[yi * N + xi] = Math.max(img[yi * N + xi], ink);
  }
}

/** A line across the picture: two points on opposite sides, through the middle region. */
function crossing(rng: Rng): [number, number, number, number] {
  const a = rng.uniform(4, N - 4);
  const b = rng.uniform(4, N - 4);
  return rng.next() < 0.5 ? [0, a, N - 1, b] : [a, 0, b, N - 1];
}

/** Poisson sample by Knuth's method (means here stay under ~80). */
function poisson(mean: number, rng: Rng): number {
  const limit = Math.exp(-mean);
  let k = 0;
  let p = rng.next();
  while (p > limit) {
    k++;
    p *= rng.next();
  }
  return k;
}

const CORRUPT: Record<CorruptionKind, (img: Float32Array, rng: Rng) => void> = {
  'shot-noise': (img, rng) => {
    const photons = rng.uniform(8, 30);
    for (let i = 0; i < PIXELS; i++) img[i] = clamp01(poisson(img[i] * photons + 0.05 * photons, rng) / photons);
  },
  'impulse-noise': (img, rng) => {
    const amount = rng.uniform(0.04, 0.12);
    for (let i = 0; i < PIXELS; i++) if (rng.next() < amount) img[i] = rng.next() < 0.5 ? 0 : 1;
  },
  'glass-blur': (img, rng) => {
    // Seen through frosted glass: blurred, then pixels swapped with a neighbour.
    blur(img, rng.uniform(0.4, 0.7));
    const swap = rng.uniform(0.3, 0.6);
    for (let round = 0; round < 1; round++) {
      for (let y = 1; y < N - 1; y++) {
        for (let x = 1; x < N - 1; x++) {
          if (rng.next() >= swap) continue;
          const dx = rng.int(3) - 1;
          const dy = rng.int(3) - 1;
          const a = y * N + x;
          const b = (y + dy) * N + x + dx;
          const t = img[a];
          img[a] = img[b];
          img[b] = t;
        }
      }
    }
    blur(img, 0.4);
  },
  'motion-blur': (img, rng) => {
    const length = rng.uniform(4, 8);
    const angle = rng.uniform(0, Math.PI);
    const src = img.slice();
    const taps = Math.ceil(length);
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        let v = 0;
        for (let t = 0; t < taps; t++) v += sample(src, x - Math.cos(angle) * t, y - Math.sin(angle) * t);
        img[y * N + x] = v / taps;
      }
    }
  },
  shear: (img, rng) => {
    const s = rng.uniform(0.25, 0.5) * (rng.next() < 0.5 ? -1 : 1);
    const c = (N - 1) / 2;
    warp(img, (x, y) => [x + s * (y - c), y]);
  },
  scale: (img, rng) => {
    const f = rng.next() < 0.7 ? rng.uniform(0.55, 0.8) : rng.uniform(1.15, 1.3);
    const c = (N - 1) / 2;
    warp(img, (x, y) => [(x - c) / f + c, (y - c) / f + c]);
  },
  rotate: (img, rng) => {
    const a = (rng.uniform(20, 40) * (rng.next() < 0.5 ? -1 : 1) * Math.PI) / 180;
    const c = (N - 1) / 2;
    const cos = Math.cos(a);
    const sin = Math.sin(a);
    warp(img, (x, y) => [cos * (x - c) + sin * (y - c) + c, -sin * (x - c) + cos * (y - c) + c]);
  },
  brightness: (img, rng) => {
    const lift = rng.uniform(0.3, 0.6);
    for (let i = 0; i < PIXELS; i++) img[i] = clamp01(img[i] + lift);
  },
  translate: (img, rng) => {
    const d = rng.uniform(3, 6);
    const a = rng.uniform(0, 2 * Math.PI);
    warp(img, (x, y) => [x - Math.round(d * Math.cos(a)), y - Math.round(d * Math.sin(a))]);
  },
  stripe: (img, rng) => {
    // Bands of inverted contrast, as a photocopier or a shadow of blinds leaves them.
    const vertical = rng.next() < 0.5;
    const bands = 1 + rng.int(3);
    for (let b = 0; b < bands; b++) {
      const start = rng.int(N - 3);
      const width = 2 + rng.int(5);
      for (let p = start; p < Math.min(N, start + width); p++) {
        for (let q = 0; q < N; q++) {
          const i = vertical ? q * N + p : p * N + q;
          img[i] = 1 - img[i];
        }
      }
    }
  },
  fog: (img, rng) => {
    const strength = rng.uniform(0.6, 1.2);
    const f = cloud(rng);
    for (let i = 0; i < PIXELS; i++) img[i] = clamp01((img[i] + strength * f[i]) / (1 + strength * 0.5));
  },
  spatter: (img, rng) => {
    // Splashes: small blobs where a finely smoothed noise field peaks, and a few single drops.
    const f = new Float32Array(PIXELS);
    for (let i = 0; i < PIXELS; i++) f[i] = rng.next();
    blur(f, 1.2);
    let lo = Infinity;
    let hi = -Infinity;
    for (const v of f) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
    const level = lo + (hi - lo) * rng.uniform(0.72, 0.82);
    const ink = rng.uniform(0.4, 0.9);
    for (let i = 0; i < PIXELS; i++) if (f[i] > level) img[i] = Math.max(img[i], ink);
    const drops = rng.int(6);
    for (let d = 0; d < drops; d++) {
      const x = rng.int(N);
      const y = rng.int(N);
      img[y * N + x] = 1;
      if (rng.next() < 0.5 && x + 1 < N) img[y * N + x + 1] = 1;
    }
  },
  'dotted-line': (img, rng) => {
    const lines = 1 + rng.int(2);
    for (let l = 0; l < lines; l++) {
      const [x0, y0, x1, y1] = crossing(rng);
      segment(img, x0, y0, x1, y1, 1, rng.uniform(2.5, 4), 1.2);
    }
  },
  zigzag: (img, rng) => {
    const [x0, y0, x1, y1] = crossing(rng);
    const teeth = 3 + rng.int(5);
    const amp = rng.uniform(1.5, 4);
    const len = Math.hypot(x1 - x0, y1 - y0);
    const nx = -(y1 - y0) / len;
    const ny = (x1 - x0) / len;
    let px = x0;
    let py = y0;
    for (let t = 1; t <= teeth * 2; t++) {
      const f = t / (teeth * 2);
      const side = t === teeth * 2 ? 0 : t % 2 === 0 ? -amp : amp;
      const qx = x0 + (x1 - x0) * f + nx * side;
      const qy = y0 + (y1 - y0) * f + ny * side;
      segment(img, px, py, qx, qy, 1);
      px = qx;
      py = qy;
    }
  },
  outline: (img) => {
    // Only the outline of the strokes: the pixels just outside the ink, as an edge detector leaves them.
    const ink = img.map((v) => (v > 0.4 ? 1 : 0));
    for (let y = 0; y < N; y++) {
      for (let x = 0; x < N; x++) {
        const i = y * N + x;
        const edge = ink[i] === 0 && (at(ink, x - 1, y) + at(ink, x + 1, y) + at(ink, x, y - 1) + at(ink, x, y + 1)) > 0;
        img[i] = edge ? 1 : 0;
      }
    }
  },
};

/** Applies one kind of damage to a 28×28 image in place, at a severity drawn from `rng`. */
export function corrupt(img: Float32Array, kind: CorruptionKind, rng: Rng): void {
  CORRUPT[kind](img, rng);
}
