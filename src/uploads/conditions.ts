import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng, Rng } from '../data/rng';

/**
 * Realistic uploads made from MNIST digits: what a phone photo, a scan or a canvas export of one
 * handwritten digit looks like, rendered deterministically from a seed. Each condition is one thing that
 * goes wrong in real pictures (light, noise, paper, ink, format); every page also gets mild noise, a
 * slight light gradient and JPEG compression, as every real photo has.
 */

export const UPLOAD_CONDITIONS = [
  'uneven-light', 'low-light', 'shadow', 'dust', 'ruled-paper', 'grid-paper', 'pencil', 'small-off-centre',
  'noisy-scan', 'canvas-rgba', 'blue-ink', 'white-on-black',
] as const;
export type UploadCondition = (typeof UPLOAD_CONDITIONS)[number];

/** Pictures with no digit at all: the answer must be IMAGE_NO_DIGIT. */
export const EMPTY_CONDITIONS = ['blank-page', 'flat-colour', 'empty-paper', 'empty-ruled', 'empty-canvas'] as const;
export type EmptyCondition = (typeof EMPTY_CONDITIONS)[number];

/** Raw pixels ready to encode: `channels` 3 (RGB, encoded as JPEG) or 4 (RGBA, encoded as PNG). */
export interface RenderedUpload {
  width: number;
  height: number;
  channels: 3 | 4;
  data: Uint8Array;
  format: 'jpeg' | 'png';
  quality: number; // JPEG quality
}

export type RGB = [number, number, number];

/** A page being painted: reflectance per channel in [0,255], and the light falling on each pixel. */
export interface Page {
  w: number;
  h: number;
  refl: Float32Array; // w*h*3
  light: Float32Array; // w*h, multiplies reflectance
}

export function newPage(w: number, h: number, paper: RGB): Page {
  const refl = new Float32Array(w * h * 3);
  for (let i = 0; i < w * h * 3; i += 3) { refl[i] = paper[0]; refl[i + 1] = paper[1]; refl[i + 2] = paper[2]; }
  return { w, h, refl, light: new Float32Array(w * h).fill(1) };
}

let gaussTable: Float32Array | undefined;
/** Standard normal draws, made on first use: a fixed table indexed by random bits, ~20× cheaper than Box-Muller per pixel. */
function gaussians(): Float32Array {
  if (!gaussTable) {
    gaussTable = new Float32Array(1 << 16);
    const r = createRng(0x5eed);
    for (let i = 0; i < gaussTable.length; i++) gaussTable[i] = Math.sqrt(-2 * Math.log(Math.max(1e-12, r.next()))) * Math.cos(2 * Math.PI * r.next());
  }
  return gaussTable;
}

/** Paints over the page with `colour` at coverage `alpha(x, y)` in [0,1], over the box [x0,x1)×[y0,y1). */
export function paint(p: Page, colour: RGB, x0: number, y0: number, x1: number, y1: number, alpha: (x: number, y: number) => number): void {
  for (let y = Math.max(0, Math.floor(y0)); y < Math.min(p.h, Math.ceil(y1)); y++) {
    for (let x = Math.max(0, Math.floor(x0)); x < Math.min(p.w, Math.ceil(x1)); x++) {
      const a = alpha(x, y);
      if (a <= 0) continue;
      const i = (y * p.w + x) * 3;
      for (let c = 0; c < 3; c++) p.refl[i + c] = p.refl[i + c] * (1 - a) + colour[c] * a;
    }
  }
}

/** The MNIST digit's ink (0..1) at a point of its 28×28 grid, bilinear, 0 outside. */
export function digitSampler(digits: Uint8Array, index: number): (gx: number, gy: number) => number {
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= IMAGE_SIZE || y >= IMAGE_SIZE ? 0 : digits[index * PIXELS + y * IMAGE_SIZE + x] / 255);
  return (gx, gy) => {
    const x0 = Math.floor(gx), y0 = Math.floor(gy), tx = gx - x0, ty = gy - y0;
    return (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty;
  };
}

/**
 * What is drawn on the page, on MNIST's grid: `cols` × `rows` pixels (28 × 28 for one digit, wider for
 * a number), ink 0..1 at any point of it.
 */
export interface Glyph { sample: (gx: number, gy: number) => number; cols: number; rows: number }

/**
 * Where the glyph goes: MNIST's 20-px digit box becomes `size` pixels, the glyph centred at (cx, cy).
 * Returns the painted box so other marks (dust) can keep away from it.
 */
export function drawDigit(p: Page, glyph: Glyph, size: number, cx: number, cy: number, ink: RGB,
  strength: (x: number, y: number) => number = () => 1): [number, number, number, number] {
  const s = size / 20; // page pixels per MNIST pixel
  const box: [number, number, number, number] = [cx - (glyph.cols / 2) * s, cy - (glyph.rows / 2) * s, cx + (glyph.cols / 2) * s, cy + (glyph.rows / 2) * s];
  paint(p, ink, box[0], box[1], box[2], box[3], (x, y) => glyph.sample((x - box[0]) / s - 0.5, (y - box[1]) / s - 0.5) * strength(x, y));
  return box;
}

/** A linear light falloff of `depth` (0..1) across the page in a random direction. */
export function gradientLight(p: Page, rng: Rng, depth: number): void {
  const angle = rng.uniform(0, 2 * Math.PI);
  const dx = Math.cos(angle), dy = Math.sin(angle);
  const span = Math.abs(dx) * p.w + Math.abs(dy) * p.h;
  const origin = Math.min(0, dx * p.w) + Math.min(0, dy * p.h);
  for (let y = 0; y < p.h; y++) for (let x = 0; x < p.w; x++) {
    p.light[y * p.w + x] *= 1 - depth * ((dx * x + dy * y - origin) / span);
  }
}

/** The final picture: reflectance × light + sensor noise, rounded to 8 bits. */
export function expose(p: Page, rng: Rng, noise: number, quality: number): RenderedUpload {
  const data = new Uint8Array(p.w * p.h * 3);
  const { refl, light } = p;
  const GAUSS = gaussians();
  let x = ((rng.next() * 4294967296) >>> 0) || 1; // xorshift32 for the noise: seeded by rng, inlined
  for (let i = 0, j = 0; i < p.w * p.h; i++, j += 3) {
    // Sensor noise is mostly luminance noise (one draw for the three channels) plus a little colour
    // noise; both from one 32-bit draw, two table lookups (a page has up to ~2 M pixels).
    x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
    const r = x >>> 0;
    const n = GAUSS[r & 0xffff] * noise;
    const chroma = GAUSS[r >>> 16] * noise * 0.3;
    const l = light[i];
    const v0 = refl[j] * l + n + chroma, v1 = refl[j + 1] * l + n, v2 = refl[j + 2] * l + n - chroma;
    data[j] = v0 < 0 ? 0 : v0 > 255 ? 255 : Math.round(v0);
    data[j + 1] = v1 < 0 ? 0 : v1 > 255 ? 255 : Math.round(v1);
    data[j + 2] = v2 < 0 ? 0 : v2 > 255 ? 255 : Math.round(v2);
  }
  return { width: p.w, height: p.h, channels: 3, data, format: 'jpeg', quality };
}

export const paperColour = (rng: Rng, lo = 228, hi = 250): RGB => {
  const base = rng.uniform(lo, hi);
  return [base + rng.uniform(-4, 4), base + rng.uniform(-4, 4), base + rng.uniform(-8, 2)];
};
export const penColour = (rng: Rng): RGB => { const v = rng.uniform(15, 60); return [v, v, v + rng.uniform(0, 15)]; };

interface Layout { w: number; h: number; size: number; cx: number; cy: number }

/** A phone-photo page, 600–1,600 px wide, the digit 30–60% of the short side, near the middle. */
function pagePhotoLayout(rng: Rng, sizeLo = 0.3, sizeHi = 0.6): Layout {
  const w = Math.round(rng.uniform(600, 1600));
  const h = Math.round(w * rng.uniform(0.7, 1.4));
  const size = Math.min(w, h) * rng.uniform(sizeLo, sizeHi);
  const jitter = Math.min(w, h) * 0.12;
  return { w, h, size, cx: w / 2 + rng.uniform(-jitter, jitter), cy: h / 2 + rng.uniform(-jitter, jitter) };
}

/**
 * A glyph wider than a digit shrinks until it fits the page with a margin and is moved inside it; a
 * single digit's layout is left as drawn (the single-digit sets stay what they were).
 */
function fitGlyph(l: Layout, glyph: Glyph): Layout {
  if (glyph.cols <= IMAGE_SIZE && glyph.rows <= IMAGE_SIZE) return l;
  const size = Math.min(l.size, (0.9 * l.w * 20) / glyph.cols, (0.9 * l.h * 20) / glyph.rows);
  const hw = (glyph.cols / 2) * (size / 20), hh = (glyph.rows / 2) * (size / 20);
  const clamp = (c: number, half: number, span: number) => Math.min(span - half, Math.max(half, c));
  return { ...l, size, cx: clamp(l.cx, hw, l.w), cy: clamp(l.cy, hh, l.h) };
}

/** Horizontal (and for grid paper vertical) printed lines, under the ink. */
function ruleLines(p: Page, rng: Rng, colour: RGB, spacing: number, thickness: number, vertical: boolean): void {
  const soft = (d: number) => Math.max(0, Math.min(1, thickness / 2 + 0.5 - Math.abs(d)));
  const offY = rng.uniform(0, spacing);
  for (let y0 = offY; y0 < p.h; y0 += spacing) paint(p, colour, 0, y0 - thickness, p.w, y0 + thickness + 1, (_x, y) => soft(y - y0) * 0.9);
  if (!vertical) return;
  const offX = rng.uniform(0, spacing);
  for (let x0 = offX; x0 < p.w; x0 += spacing) paint(p, colour, x0 - thickness, 0, x0 + thickness + 1, p.h, (x) => soft(x - x0) * 0.9);
}

/**
 * Renders one upload of MNIST digit `index` (images as in Dataset: 0 = background) under `condition`.
 * @example renderUpload('shadow', test.images, 7, createRng(1)) // { width: 1184, height: 1032, format: 'jpeg', ... }
 */
export function renderUpload(condition: UploadCondition | EmptyCondition, digits: Uint8Array, index: number, rng: Rng): RenderedUpload {
  return renderGlyphUpload(condition, { sample: digitSampler(digits, index), cols: IMAGE_SIZE, rows: IMAGE_SIZE }, rng);
}

/** Renders any glyph (a digit, a number, a mark) under `condition`, as renderUpload does a digit. */
export function renderGlyphUpload(condition: UploadCondition | EmptyCondition, glyph: Glyph, rng: Rng): RenderedUpload {
  const photoLayout = (r: Rng, lo?: number, hi?: number) => fitGlyph(pagePhotoLayout(r, lo, hi), glyph);
  const quality = Math.round(rng.uniform(70, 92));
  switch (condition) {
    case 'uneven-light': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      gradientLight(p, rng, rng.uniform(0.4, 0.5));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'low-light': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      p.light.fill(rng.uniform(0.45, 0.55));
      gradientLight(p, rng, rng.uniform(0, 0.15));
      return expose(p, rng, rng.uniform(10, 14), quality);
    }
    case 'shadow': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      // A straight shadow edge (a phone or a hand) with a soft penumbra, anywhere on the page.
      const angle = rng.uniform(0, 2 * Math.PI);
      const dx = Math.cos(angle), dy = Math.sin(angle);
      const c = rng.uniform(-0.3, 0.3) * Math.min(l.w, l.h);
      const soft = rng.uniform(0.01, 0.04) * Math.min(l.w, l.h);
      const depth = rng.uniform(0.35, 0.5);
      for (let y = 0; y < l.h; y++) for (let x = 0; x < l.w; x++) {
        const d = (x - l.w / 2) * dx + (y - l.h / 2) * dy - c;
        p.light[y * l.w + x] *= 1 - depth / (1 + Math.exp(-d / soft));
      }
      return expose(p, rng, rng.uniform(2, 5), quality);
    }
    case 'dust': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      const [bx0, by0, bx1, by1] = drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      const specks = 20 + rng.int(60);
      for (let k = 0; k < specks; k++) {
        const r = rng.uniform(1, 5);
        const x = rng.uniform(r, l.w - r), y = rng.uniform(r, l.h - r);
        if (x > bx0 - r && x < bx1 + r && y > by0 - r && y < by1 + r) continue; // away from the digit
        const dark = rng.uniform(0.3, 0.9);
        paint(p, [30, 30, 30], x - r - 1, y - r - 1, x + r + 1, y + r + 1, (px, py) => Math.max(0, Math.min(1, r + 0.5 - Math.hypot(px - x, py - y))) * dark);
      }
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'ruled-paper':
    case 'grid-paper':
    case 'empty-ruled': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      const grid = condition === 'grid-paper';
      const spacing = Math.min(l.w, l.h) * (grid ? rng.uniform(0.03, 0.06) : rng.uniform(0.04, 0.07));
      const blue: RGB = [rng.uniform(120, 170), rng.uniform(160, 200), rng.uniform(220, 245)];
      ruleLines(p, rng, blue, spacing, Math.max(1, Math.min(l.w, l.h) * rng.uniform(0.0015, 0.003)), grid);
      if (!grid && rng.next() < 0.5) { // the red margin line of a school exercise book
        const mx = l.w * rng.uniform(0.08, 0.15);
        paint(p, [220, 90, 90], mx - 2, 0, mx + 3, l.h, (x) => Math.max(0, Math.min(1, 1.5 - Math.abs(x - mx))) * 0.9);
      }
      if (condition !== 'empty-ruled') drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.15));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'pencil': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      const g = rng.uniform(100, 150);
      const strength = rng.uniform(0.55, 0.85);
      drawDigit(p, glyph, l.size, l.cx, l.cy, [g, g, g + 5], () => strength * (0.75 + 0.25 * rng.next()));
      gradientLight(p, rng, rng.uniform(0, 0.15));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'small-off-centre': {
      const l = photoLayout(rng, 0.08, 0.15);
      // A digit keeps its own size as margin; a number at least its half-width.
      const wide = glyph.cols > IMAGE_SIZE || glyph.rows > IMAGE_SIZE;
      const mx = wide ? Math.max(l.size, (glyph.cols / 2) * (l.size / 20) + 0.02 * l.w) : l.size;
      const my = wide ? Math.max(l.size, (glyph.rows / 2) * (l.size / 20) + 0.02 * l.h) : l.size;
      // Anywhere on the page at least a fifth of the way off the centre.
      let cx = 0, cy = 0;
      for (let tries = 0; ; tries++) {
        cx = rng.uniform(mx, l.w - mx);
        cy = rng.uniform(my, l.h - my);
        if (Math.hypot(cx / l.w - 0.5, cy / l.h - 0.5) >= 0.2 || tries > 100) break;
      }
      const p = newPage(l.w, l.h, paperColour(rng));
      drawDigit(p, glyph, l.size, cx, cy, penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.15));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'noisy-scan': {
      const w = Math.round(rng.uniform(500, 1000));
      const h = Math.round(w * rng.uniform(1.2, 1.45));
      const p = newPage(w, h, paperColour(rng, 225, 250));
      const l = fitGlyph({ w, h, size: Math.min(w, h) * rng.uniform(0.25, 0.55), cx: w / 2 + rng.uniform(-0.1, 0.1) * w, cy: h / 2 + rng.uniform(-0.1, 0.1) * h }, glyph);
      drawDigit(p, glyph, l.size, l.cx, l.cy, penColour(rng));
      return expose(p, rng, 6, 75);
    }
    case 'blue-ink': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      drawDigit(p, glyph, l.size, l.cx, l.cy, [rng.uniform(15, 45), rng.uniform(35, 75), rng.uniform(120, 180)]);
      gradientLight(p, rng, rng.uniform(0, 0.15));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'white-on-black': {
      const l = photoLayout(rng);
      const bg = rng.uniform(10, 45);
      const p = newPage(l.w, l.h, [bg, bg, bg + rng.uniform(0, 10)]);
      const v = rng.uniform(200, 250);
      drawDigit(p, glyph, l.size, l.cx, l.cy, [v, v, v]);
      gradientLight(p, rng, rng.uniform(0, 0.2));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'canvas-rgba':
    case 'empty-canvas': {
      // A drawing exported from a canvas: transparent background, strokes in one colour, alpha = ink.
      // A number gets a canvas as much wider than tall as it is.
      const size = Math.round(rng.uniform(200, 400));
      const cw = Math.round(size * Math.max(1, glyph.cols / glyph.rows)), ch = size;
      const colour: RGB = rng.next() < 0.5 ? [0, 0, 0] : [rng.uniform(0, 80), rng.uniform(0, 80), rng.uniform(60, 200)];
      const data = new Uint8Array(cw * ch * 4);
      const digit = size * rng.uniform(0.5, 0.75) * (IMAGE_SIZE / Math.max(IMAGE_SIZE, glyph.rows));
      const s = digit / 20;
      const ox = cw / 2 - (glyph.cols / 2) * s + rng.uniform(-0.08, 0.08) * size * (IMAGE_SIZE / Math.max(IMAGE_SIZE, glyph.rows));
      const oy = ch / 2 - (glyph.rows / 2) * s + rng.uniform(-0.08, 0.08) * size * (IMAGE_SIZE / Math.max(IMAGE_SIZE, glyph.rows));
      for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) {
        const a = condition === 'empty-canvas' ? 0 : glyph.sample((x - ox) / s - 0.5, (y - oy) / s - 0.5);
        data.set([colour[0], colour[1], colour[2], Math.round(255 * Math.min(1, a * 1.2))], (y * cw + x) * 4);
      }
      return { width: cw, height: ch, channels: 4, data, format: 'png', quality: 100 };
    }
    case 'blank-page': {
      const l = photoLayout(rng);
      return expose(newPage(l.w, l.h, paperColour(rng)), rng, rng.uniform(0, 3), quality);
    }
    case 'flat-colour': {
      const w = Math.round(rng.uniform(50, 800)), h = Math.round(rng.uniform(50, 800));
      const c: RGB = [rng.uniform(0, 255), rng.uniform(0, 255), rng.uniform(0, 255)];
      return expose(newPage(w, h, c), rng, 0, quality);
    }
    case 'empty-paper': {
      const l = photoLayout(rng);
      const p = newPage(l.w, l.h, paperColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.45));
      if (rng.next() < 0.5) p.light.forEach((v, i) => { p.light[i] = v * 0.5; });
      return expose(p, rng, rng.uniform(2, 12), quality);
    }
  }
}

/** For tests and pictures: mulberry32 seeds per (seed, condition, i), so one image can be rebuilt alone. */
export function uploadSeed(seed: number, condition: string, i: number): number {
  let h = seed >>> 0;
  for (const ch of condition) h = Math.imul(h ^ ch.charCodeAt(0), 0x9e3779b1) >>> 0;
  return (Math.imul(h ^ i, 0x85ebca6b) ^ (i << 7)) >>> 0;
}
