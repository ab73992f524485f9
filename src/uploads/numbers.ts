import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng, Rng } from '../data/rng';
import { digitSampler, Glyph, renderGlyphUpload, RenderedUpload, UploadCondition, UPLOAD_CONDITIONS, uploadSeed } from './conditions';

/**
 * Handwritten numbers made from MNIST digits: several digits written on one line, as a person writes a
 * year or an amount, then put on the realistic uploads' pages under any of their conditions.
 *
 * Two kinds: `gaps` (every pair of neighbours apart, from a hair's breadth to wide, the boxes of slanted
 * digits may overlap) and `touching` (at least one pair whose strokes run into each other, the way fast
 * handwriting joins them). Each digit's size and height on the line waver, as in real writing.
 */

export const NUMBER_KINDS = ['gaps', 'touching'] as const;
export type NumberKind = (typeof NUMBER_KINDS)[number];

/** Rows of the strip a number is written on: a digit's 28 and room for the line to waver. */
const STRIP_ROWS = 36;
/** Ink above this (0..1) is a stroke for measuring how far apart two digits are. */
const STROKE = 0.3;

export interface NumberStrip { glyph: Glyph; label: string; indices: number[] }

/** The rightmost stroke column of each row in `strip` (−∞ where the row has none). */
function rightEdges(strip: Float32Array, cols: number): Float32Array {
  const out = new Float32Array(STRIP_ROWS).fill(-Infinity);
  for (let y = 0; y < STRIP_ROWS; y++) for (let x = cols - 1; x >= 0; x--) if (strip[y * cols + x] > STROKE) { out[y] = x; break; }
  return out;
}

/**
 * Writes MNIST digits `indices` of `images` side by side. `clearance` gives, for each joint, the gap in
 * MNIST pixels between the strokes (the closest approach over neighbouring rows); below 0 the strokes
 * overlap by that much and touch.
 */
export function writeNumber(images: Uint8Array, labels: Uint8Array, indices: number[], clearance: number[], rng: Rng): NumberStrip {
  const cols = indices.length * IMAGE_SIZE + 16;
  const strip = new Float32Array(STRIP_ROWS * cols);
  let used = 0;
  indices.forEach((index, k) => {
    const sample = digitSampler(images, index);
    const scale = rng.uniform(0.85, 1.1);
    const dy = rng.uniform(-2.5, 2.5) + (IMAGE_SIZE * (1 - scale)) / 2;
    // The digit drawn at scale on its own 28-wide cell, then slid left against what is written.
    const cell = new Float32Array(STRIP_ROWS * IMAGE_SIZE);
    for (let y = 0; y < STRIP_ROWS; y++) for (let x = 0; x < IMAGE_SIZE; x++) {
      cell[y * IMAGE_SIZE + x] = sample((x - (IMAGE_SIZE * (1 - scale)) / 2) / scale, (y - 4 - dy) / scale);
    }
    let ox = 4;
    if (k > 0) {
      const right = rightEdges(strip, cols);
      // The new digit's leftmost stroke per row; the offset puts its closest approach at the clearance.
      let need = -Infinity;
      for (let y = 0; y < STRIP_ROWS; y++) {
        let left = -1;
        for (let x = 0; x < IMAGE_SIZE; x++) if (cell[y * IMAGE_SIZE + x] > STROKE) { left = x; break; }
        if (left < 0) continue;
        for (let yy = Math.max(0, y - 1); yy <= Math.min(STRIP_ROWS - 1, y + 1); yy++) need = Math.max(need, right[yy] + 1 + clearance[k - 1] - left);
      }
      ox = Math.round(need === -Infinity ? used : need);
    }
    for (let y = 0; y < STRIP_ROWS; y++) for (let x = 0; x < IMAGE_SIZE; x++) {
      const c = ox + x;
      if (c < 0 || c >= cols) continue;
      const v = cell[y * IMAGE_SIZE + x];
      if (v > strip[y * cols + c]) strip[y * cols + c] = v;
    }
    used = Math.max(used, ox + IMAGE_SIZE);
  });
  const width = Math.min(cols, used + 4);
  const at = (x: number, y: number) => (x < 0 || y < 0 || x >= width || y >= STRIP_ROWS ? 0 : strip[y * cols + x]);
  const glyph: Glyph = {
    cols: width,
    rows: STRIP_ROWS,
    sample: (gx, gy) => {
      const x0 = Math.floor(gx), y0 = Math.floor(gy), tx = gx - x0, ty = gy - y0;
      return (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty;
    },
  };
  return { glyph, label: indices.map((i) => labels[i]).join(''), indices };
}

/** Gaps for a number of `n` digits of `kind`: wide to narrow apart, or one joint (at least) touching. */
export function numberClearances(kind: NumberKind, n: number, rng: Rng): number[] {
  const gaps = Array.from({ length: n - 1 }, () => (rng.next() < 0.3 ? rng.uniform(1.5, 3) : rng.uniform(3, 10)));
  if (kind === 'touching' && n > 1) {
    gaps[rng.int(n - 1)] = rng.uniform(-1.2, -0.3);
    for (let k = 0; k < n - 1; k++) if (rng.next() < 0.25) gaps[k] = rng.uniform(-1.2, -0.3);
  }
  return gaps;
}

/**
 * The `i`th number upload of `kind` for `seed`: 2–5 digits (1–8 with `lengths`), drawn from the MNIST
 * test images, under one of the 12 conditions in turn.
 */
export function renderNumberUpload(images: Uint8Array, labels: Uint8Array, kind: NumberKind, seed: number, i: number,
  lengths: [number, number] = [2, 5]): { condition: UploadCondition; label: string; upload: RenderedUpload } {
  const rng = createRng(uploadSeed(seed, `number-${kind}`, i));
  const condition = UPLOAD_CONDITIONS[i % UPLOAD_CONDITIONS.length];
  const n = lengths[0] + rng.int(lengths[1] - lengths[0] + 1);
  const count = images.length / PIXELS;
  const indices = Array.from({ length: n }, () => rng.int(count));
  const { glyph, label } = writeNumber(images, labels, indices, numberClearances(kind, n, rng), rng);
  return { condition, label, upload: renderGlyphUpload(condition, glyph, rng) };
}
