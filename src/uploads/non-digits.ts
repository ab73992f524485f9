import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng, Rng } from '../data/rng';
import { renderUpload, RenderedUpload, UPLOAD_CONDITIONS, uploadSeed } from './conditions';

/**
 * Marks that are not digits, drawn as pen strokes: letters and signs from the Hershey stroke fonts (one
 * line per stroke, as a pen draws them) with a wobbling hand, scribbles, shapes, textures. Each is drawn
 * the way MNIST drew its digits (fitted to 20 px, centred by mass in 28×28) and then put on the same
 * papers, lights and photos as the realistic uploads, so the only difference from a digit upload is
 * the mark itself.
 *
 * Families are tuned on or held out as wholes: thresholds and methods are chosen on the tuned families;
 * the held-out ones are drawn differently (another hand, another alphabet, printed, own shapes) and are
 * reported, never tuned on.
 */
export const TUNED_FAMILIES = ['letters-sans', 'symbols', 'greek', 'markers', 'scribbles', 'japanese', 'textures'] as const;
export const HELD_OUT_FAMILIES = ['letters-script', 'cyrillic', 'printed-words', 'signs', 'shapes', 'partial-strokes'] as const;
export type NonDigitFamily = (typeof TUNED_FAMILIES)[number] | (typeof HELD_OUT_FAMILIES)[number];
export const NON_DIGIT_FAMILIES: readonly NonDigitFamily[] = [...TUNED_FAMILIES, ...HELD_OUT_FAMILIES];

type Point = [number, number];
type Stroke = Point[];

interface HersheyFont { name: string; chars: Array<{ d: string; o: number }> }
let fonts: Record<string, HersheyFont> | undefined;
/** The Hershey fonts (hersheytext's JSON, a dev dependency: only the evaluation draws glyphs). */
function hershey(): Record<string, HersheyFont> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  fonts ??= require('hersheytext/hersheytext.json') as Record<string, HersheyFont>;
  return fonts;
}

/** Glyph `ch` (hersheytext indexes its 95 glyphs from '!') of `font` as strokes; y points down. */
function glyph(font: string, ch: string): Stroke[] {
  const entry = hershey()[font].chars[ch.charCodeAt(0) - 33];
  const strokes: Stroke[] = [];
  for (const part of (entry?.d ?? '').split('M').slice(1)) {
    const nums = part.replace(/L/g, ' ').trim().split(/[\s,]+/).map(Number);
    const stroke: Stroke = [];
    for (let k = 0; k + 1 < nums.length; k += 2) stroke.push([nums[k], nums[k + 1]]);
    if (stroke.length) strokes.push(stroke);
  }
  return strokes;
}

/**
 * Which glyphs each family draws, as the keys hersheytext files them under. Left out: glyphs that many
 * hands write the same as a digit (O/0, I l | / ( ) ! /1, S/5, Z/2, B/8, b/6, g q/9, a Cyrillic З/3 or Ч/4),
 * and dots and dashes too small to be a mark: no one can tell those from a digit, and the score must not
 * learn to try.
 */
const LATIN = 'ACEFHKMNPRTUVWXYacdefhkmnprtuvwxy';
const SYMBOLS = '#$%&*+<=>?@~{}^';
const FONT_GLYPHS: Record<string, { fonts: string[]; chars: string }> = {
  'letters-sans': { fonts: ['futural', 'futuram'], chars: LATIN },
  symbols: { fonts: ['futural', 'futuram'], chars: SYMBOLS },
  greek: { fonts: ['greek', 'timesg'], chars: 'ACDEFGHKLMNPRTUVWXYcefhkmnprtuvwxy' },
  markers: { fonts: ['markers'], chars: 'BCDFGHIJKLMNOPQ' }, // 'A' is a plain circle
  japanese: { fonts: ['japanese'], chars: '"#$%&\'()*+,-./0123456789:;<=>?@ABCDEFGHIJKLMNOPQRSTUVWXYZ[\\]^_`abcdefghijklmnopqrstuvwxyz{|}~' },
  'letters-script': { fonts: ['scripts', 'cursive', 'scriptc'], chars: LATIN },
  cyrillic: { fonts: ['cyrillic'], chars: 'ADEFGHIKLMNPQRSTUWXY[]^`adefghiklmnpqrstuwxy' },
  // Only the keys these fonts fill with signs: their digits, letters and brackets are plain type.
  signs: { fonts: ['astrology', 'meteorology', 'music', 'symbolic'], chars: '"#$%&*+:;<=>?@^~' },
};
const WORDS = ['the', 'and', 'yes', 'cat', 'milk', 'hand', 'text', 'ref', 'name', 'date', 'tax', 'we', 'pay', 'her', 'key', 'fax', 'mr', 'dry', 'ink', 'kw', 'vat', 'net', 'max', 'per'];
const WORD_FONTS = ['timesr', 'timesi', 'futural', 'timesrb'];

/**
 * Whether a mark is one straight line (a dash, a bar, a slash, 一): the points' spread across their main
 * axis is under a tenth of the spread along it. Any hand's 1 is such a line.
 */
export function isStraight(strokes: Stroke[]): boolean {
  const pts = strokes.flat();
  const n = pts.length;
  const mx = pts.reduce((t, p) => t + p[0], 0) / n, my = pts.reduce((t, p) => t + p[1], 0) / n;
  let sxx = 0, syy = 0, sxy = 0;
  for (const [x, y] of pts) { sxx += (x - mx) ** 2; syy += (y - my) ** 2; sxy += (x - mx) * (y - my); }
  const tr = sxx + syy, det = sxx * syy - sxy * sxy;
  const disc = Math.sqrt(Math.max(0, (tr * tr) / 4 - det));
  const major = tr / 2 + disc, minor = Math.max(0, tr / 2 - disc);
  return Math.sqrt(minor) < 0.1 * Math.sqrt(major);
}

/** A font's glyph, skipping those the font leaves empty and single straight lines. */
function pickGlyph(rng: Rng, fontsOf: string[], chars: string): Stroke[] {
  for (;;) {
    const strokes = glyph(fontsOf[rng.int(fontsOf.length)], chars[rng.int(chars.length)]);
    if (strokes.some((s) => s.length > 1) && !isStraight(strokes)) return strokes;
  }
}

/** A word set in a printed font: the glyphs side by side, spaced by their advance widths. */
function word(rng: Rng): Stroke[] {
  const font = WORD_FONTS[rng.int(WORD_FONTS.length)];
  const text = WORDS[rng.int(WORDS.length)];
  const out: Stroke[] = [];
  let x = 0;
  for (const ch of text) {
    const strokes = glyph(font, ch);
    const xs = strokes.flat().map((p) => p[0]);
    const left = Math.min(...xs);
    out.push(...strokes.map((s) => s.map(([px, py]): Point => [px - left + x, py])));
    x += Math.max(...xs) - left + 3;
  }
  return out;
}

const circle = (cx: number, cy: number, r: number, a0 = 0, a1 = 2 * Math.PI, n = 24): Stroke =>
  Array.from({ length: n + 1 }, (_, k) => { const a = a0 + ((a1 - a0) * k) / n; return [cx + r * Math.cos(a), cy + r * Math.sin(a)]; });

/** Shapes people draw instead of digits: stars, arrows, ticks, faces, boxes, hearts. */
function shape(rng: Rng): Stroke[] {
  switch (rng.int(8)) {
    case 0: { // a five-pointed star in one line
      const a0 = rng.uniform(0, 2 * Math.PI);
      return [Array.from({ length: 6 }, (_, k): Point => [Math.cos(a0 + (k * 4 * Math.PI) / 5), Math.sin(a0 + (k * 4 * Math.PI) / 5)])];
    }
    case 1: { // an arrow, any direction
      const a = rng.uniform(0, 2 * Math.PI), c = Math.cos(a), s = Math.sin(a);
      const tip: Point = [c, s];
      const barb = (t: number): Point => [c - 0.45 * Math.cos(a + t), s - 0.45 * Math.sin(a + t)];
      return [[[-c, -s], tip], [barb(0.5), tip, barb(-0.5)]];
    }
    case 2: return [[[-1, 0], [-0.4, 0.6], [1, -1]]]; // a tick
    case 3: return [circle(0, 0, 1), circle(-0.35, -0.3, 0.08, 0, 2 * Math.PI, 6), circle(0.35, -0.3, 0.08, 0, 2 * Math.PI, 6), circle(0, 0.05, 0.55, 0.5, Math.PI - 0.5, 10)]; // a face
    case 4: return rng.next() < 0.5 // a box, perhaps ticked or crossed
      ? [[[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], [[-1, -1], [1, 1]], [[1, -1], [-1, 1]]]
      : [[[-1, -1], [1, -1], [1, 1], [-1, 1], [-1, -1]], [[-0.6, 0], [-0.2, 0.5], [0.6, -0.6]]];
    case 5: return [[[0, 1], [-0.9, 0], [-1, -0.5], [-0.7, -0.9], [-0.3, -0.9], [0, -0.5], [0.3, -0.9], [0.7, -0.9], [1, -0.5], [0.9, 0], [0, 1]]]; // a heart
    case 6: return [[[-1, 1], [-1, -0.2], [0, -1], [1, -0.2], [1, 1], [-1, 1]], [[-0.3, 1], [-0.3, 0.3], [0.3, 0.3], [0.3, 1]]]; // a house
    default: return [[[0, -1], [1, 0], [0, 1], [-1, 0], [0, -1]], [[-1, 0], [1, 0]]]; // a crossed diamond
  }
}

/** A pen wandering and turning, or striking something out back and forth. */
function scribble(rng: Rng): Stroke[] {
  if (rng.next() < 0.5) {
    const s: Stroke = [[0, 0]];
    let a = rng.uniform(0, 2 * Math.PI);
    for (let k = 0; k < 30 + rng.int(50); k++) {
      a += rng.uniform(-1.2, 1.2);
      const [x, y] = s[s.length - 1];
      s.push([x + Math.cos(a), y + Math.sin(a)]);
    }
    return [s];
  }
  const s: Stroke = [];
  const n = 4 + rng.int(6);
  for (let k = 0; k <= n; k++) s.push([k % 2 ? 1 : -1, -1 + (2 * k) / n + rng.uniform(-0.1, 0.1)]);
  return [s];
}

/** Patterns that fill the box: hatching, grids, dots, waves, rings. */
function texture(rng: Rng): Stroke[] {
  const out: Stroke[] = [];
  const n = 4 + rng.int(4);
  switch (rng.int(5)) {
    case 0: for (let k = 0; k < n; k++) { const t = -1 + (2 * k) / (n - 1); out.push([[-1, t - 0.5], [1, t + 0.5]]); } break;
    case 1: for (let k = 0; k < n; k++) { const t = -1 + (2 * k) / (n - 1); out.push([[-1, t], [1, t]], [[t, -1], [t, 1]]); } break;
    case 2: for (let i = 0; i < n; i++) for (let j = 0; j < n; j++) out.push(circle(-1 + (2 * i) / (n - 1), -1 + (2 * j) / (n - 1), 0.04, 0, 2 * Math.PI, 4)); break;
    case 3: for (let k = 0; k < n - 1; k++) { const y = -1 + (2 * k) / (n - 2); out.push(Array.from({ length: 25 }, (_, i): Point => [-1 + i / 12, y + 0.15 * Math.sin(i / 1.5)])); } break;
    default: for (let k = 1; k <= n - 2; k++) out.push(circle(0, 0, k / (n - 2), 0, 2 * Math.PI, 32)); break;
  }
  return out;
}

/** The length of a polyline. */
const strokeLength = (s: Stroke) => s.slice(1).reduce((t, p, k) => t + Math.hypot(p[0] - s[k][0], p[1] - s[k][1]), 0);

/** 35–70% of a letter's path, in one run, starting anywhere: a letter left unfinished (never one straight line). */
function partial(rng: Rng): Stroke[] {
  for (;;) {
    const kept = partOfLetter(rng);
    if (!isStraight(kept)) return kept;
  }
}

function partOfLetter(rng: Rng): Stroke[] {
  const strokes = pickGlyph(rng, ['futural', 'scripts'], LATIN);
  const total = strokes.reduce((t, s) => t + strokeLength(s), 0);
  const start = rng.uniform(0, 0.5) * total, end = start + rng.uniform(0.35, 0.7) * total;
  const out: Stroke[] = [];
  let at = 0;
  for (const s of strokes) {
    const kept: Stroke = [];
    for (let k = 0; k < s.length; k++) {
      if (k > 0) at += Math.hypot(s[k][0] - s[k - 1][0], s[k][1] - s[k - 1][1]);
      if (at >= start && at <= end) kept.push(s[k]);
    }
    if (kept.length > 1) out.push(kept);
  }
  return out.length ? out : strokes;
}

/** The strokes of one mark of `family`, in any coordinates. */
export function nonDigitStrokes(family: NonDigitFamily, rng: Rng): Stroke[] {
  switch (family) {
    case 'printed-words': return word(rng);
    case 'shapes': return shape(rng);
    case 'scribbles': return scribble(rng);
    case 'textures': return texture(rng);
    case 'partial-strokes': return partial(rng);
    default: return pickGlyph(rng, FONT_GLYPHS[family].fonts, FONT_GLYPHS[family].chars);
  }
}

/** Pen widths in 28×28 pixels: MNIST's strokes are ~2–3 px; printed words are finer. */
const PEN = { lo: 1.5, hi: 3.2, printedLo: 1.0, printedHi: 1.8 };

/**
 * Draws strokes as MNIST drew digits: a hand's slant and wobble, a pen of some width, the mark fitted to
 * a 20-px box (keeping its shape) and centred by its centre of mass in 28×28. Ink 0..255, 0 = paper.
 */
export function drawStrokes(strokes: Stroke[], rng: Rng, printed = false): Uint8Array {
  const rot = rng.uniform(-0.2, 0.2), shear = rng.uniform(-0.25, 0.25), aspect = rng.uniform(0.8, 1.25);
  const c = Math.cos(rot), s = Math.sin(rot);
  // The hand's wobble: a slow random offset along the path, a few tenths of a stroke width.
  const wobble = printed ? 0 : rng.uniform(0.01, 0.03);
  const phase = [rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3), rng.uniform(0, 6.3)];
  const pts = strokes.map((st) => st.map(([x, y]): Point => {
    const xs = (x + shear * y) * aspect;
    return [c * xs - s * y, s * xs + c * y];
  }));
  const all = pts.flat();
  const [minX, maxX] = [Math.min(...all.map((p) => p[0])), Math.max(...all.map((p) => p[0]))];
  const [minY, maxY] = [Math.min(...all.map((p) => p[1])), Math.max(...all.map((p) => p[1]))];
  const scale = 20 / Math.max(maxX - minX, maxY - minY, 1e-6);
  const width = printed ? rng.uniform(PEN.printedLo, PEN.printedHi) : rng.uniform(PEN.lo, PEN.hi);
  const segs: number[] = [];
  for (const st of pts) {
    const placed = st.map(([x, y]): Point => {
      const u = (x - minX) / (maxX - minX + 1e-6), v = (y - minY) / (maxY - minY + 1e-6);
      const dx = wobble * 20 * Math.sin(6 * u + 4 * v + phase[0]) + wobble * 10 * Math.sin(13 * v + phase[1]);
      const dy = wobble * 20 * Math.sin(5 * v + 3 * u + phase[2]) + wobble * 10 * Math.sin(11 * u + phase[3]);
      return [4 + (x - minX) * scale + dx, 4 + (y - minY) * scale + dy];
    });
    if (placed.length === 1) placed.push([placed[0][0] + 0.01, placed[0][1]]);
    for (let k = 1; k < placed.length; k++) segs.push(placed[k - 1][0], placed[k - 1][1], placed[k][0], placed[k][1]);
  }
  const ink = new Float32Array(PIXELS);
  let mass = 0, mx = 0, my = 0;
  for (let y = 0; y < IMAGE_SIZE; y++) for (let x = 0; x < IMAGE_SIZE; x++) {
    const px = x + 0.5, py = y + 0.5;
    let d2 = Infinity;
    for (let k = 0; k < segs.length; k += 4) {
      const ax = segs[k], ay = segs[k + 1], bx = segs[k + 2] - ax, by = segs[k + 3] - ay;
      const t = Math.max(0, Math.min(1, ((px - ax) * bx + (py - ay) * by) / (bx * bx + by * by || 1)));
      const ex = px - ax - t * bx, ey = py - ay - t * by;
      d2 = Math.min(d2, ex * ex + ey * ey);
    }
    const a = Math.max(0, Math.min(1, width / 2 + 0.5 - Math.sqrt(d2)));
    ink[y * IMAGE_SIZE + x] = a;
    mass += a; mx += a * x; my += a * y;
  }
  // Centre by mass, as MNIST did (whole-pixel shift).
  const sx = Math.round(13.5 - mx / (mass || 1)), sy = Math.round(13.5 - my / (mass || 1));
  const out = new Uint8Array(PIXELS);
  for (let y = 0; y < IMAGE_SIZE; y++) for (let x = 0; x < IMAGE_SIZE; x++) {
    const fx = x - sx, fy = y - sy;
    if (fx >= 0 && fy >= 0 && fx < IMAGE_SIZE && fy < IMAGE_SIZE) out[y * IMAGE_SIZE + x] = Math.round(255 * ink[fy * IMAGE_SIZE + fx]);
  }
  return out;
}

/** One non-digit mark of `family` as a 28×28 MNIST-style image (0 = paper). */
export function renderNonDigit(family: NonDigitFamily, rng: Rng): Uint8Array {
  return drawStrokes(nonDigitStrokes(family, rng), rng, family === 'printed-words');
}

/**
 * Picture `i` of `family` for `seed`: the mark under one of the realistic uploads' conditions, chosen by
 * the seed (the same photos, papers, lights and canvas exports as the digits).
 */
export function renderNonDigitUpload(family: NonDigitFamily, seed: number, i: number): { condition: string; upload: RenderedUpload; mark: Uint8Array } {
  const rng = createRng(uploadSeed(seed, `not-a-digit/${family}`, i));
  const mark = renderNonDigit(family, rng);
  const condition = UPLOAD_CONDITIONS[rng.int(UPLOAD_CONDITIONS.length)];
  return { condition, upload: renderUpload(condition, mark, 0, rng), mark };
}
