import { IMAGE_SIZE, PIXELS } from '../data/mnist';
import { borderMedian, Box, cropFound, digitFromInk, findInk, withoutPrintedText } from './find-digit';
import { findLine } from './find-number';
import { CandidateKind, inkIsDark, layoutCandidates, SheetRows } from './layout-candidates';
import type { Bitmap } from './bitmap';
import { createWorkspace, Workspace } from './workspace';


/** MNIST's own recipe: the digit's longer side is scaled to this many pixels... */
export const DIGIT_BOX = 20;
/** ...longer sides above this are first box-averaged down, to bound the work on large photos. */
const WORK_SIZE = 512;

export interface PreprocessInfo {
  /**
   * 'passthrough': a 28×28 image that already looks like MNIST, used as it is. 'whole': a 28×28 image
   * the model's scores preferred as it is (in `inverted`'s polarity) over the normalized crop. 'tight',
   * 'sheet', 'frame', 'print': another layout's reading the model's scores preferred over the page's
   * (layout-candidates.ts).
   */
  path: 'passthrough' | 'normalized' | 'whole' | CandidateKind;
  /** True when the ink was darker than its background and was inverted for the model (MNIST is light on dark): pen on paper. */
  inverted: boolean;
  hadAlpha: boolean;
  /** True when nothing stood out from the background (the result is all zeros). */
  empty: boolean;
}

/** A box in the uploaded picture's pixels. */
export interface PixelBox { x: number; y: number; width: number; height: number }

/** A found digit within this share of the short side from an edge touches it. */
const EDGE_SHARE = 0.01;
/** The page saw a mark whole when the whole picture's ink box is at most this many times its box. */
const SEEN_WHOLE = 2;

/** The box of a 28×28 image the model takes as it is: the whole image. */
export const WHOLE_28: Readonly<PixelBox> = Object.freeze({ x: 0, y: 0, width: IMAGE_SIZE, height: IMAGE_SIZE });

/** A 28×28 picture as the model's input, light ink on dark when `inverted` says it was dark on light. */
export interface WholeReading { input: Float32Array; inverted: boolean }

/** The candidate characters of a line of several marks (see find-number.ts), for the model to read. */
export interface LineInputs {
  atoms: number;
  skippable: boolean[];
  cutStrokes: number[];
  /** Candidate k is atoms [start, end) read as one digit; its 28×28 input is inputs[k·784, (k+1)·784). */
  candidates: { start: number; end: number; box: PixelBox }[];
  inputs: Float32Array;
}

/** What preprocessing answers: the one-digit input, and for a line of several marks, its candidates. */
export interface Preprocessed {
  input: Float32Array;
  info: PreprocessInfo;
  /** The digit's box in the picture (absent when nothing was found). */
  box?: PixelBox;
  line?: LineInputs;
  /**
   * For a 28×28 picture that did not pass as MNIST-like: the picture itself as the model's input, in
   * both polarities, the one its ink suggests first (light ink on dark for the model). Noise, fog, inverted bands or an outline can make
   * the page pipeline misread a picture the model reads as it is; the predictor lets the model's scores
   * choose.
   */
  whole?: WholeReading[];
  /**
   * For any other picture: the readings of other layouts than a page (the whole picture as a tight crop,
   * a sheet on a desk, a digit in a printed box; layout-candidates.ts), for the model to score against
   * the page pipeline's.
   */
  alternatives?: Alternative[];
}

/**
 * Another hypothesis of where the digit is, as the model's input, with its box in the picture.
 * `needsDoubt`: it may not overrule a page reading that the digit score refuses (the page found a clear
 * mark away from the edges, and the whole picture around it is no better evidence of a digit).
 */
export interface Alternative {
  kind: CandidateKind;
  input: Float32Array;
  box: PixelBox;
  inverted: boolean;
  needsDoubt: boolean;
  /** A sheet's box in the uploaded picture's pixels (the 'sheet' hypothesis): outside it is the desk. */
  sheet?: PixelBox;
  /** The sheet's ends in each band of rows, in the uploaded picture's pixels. */
  sheetRows?: SheetRows;
}

const luma = (r: number, g: number, b: number) => 0.299 * r + 0.587 * g + 0.114 * b;

/**
 * Luminance in [0,255] after compositing transparency onto the background the strokes are not: a canvas
 * export has a transparent background and dark or coloured strokes, so the opaque pixels decide.
 */
export function toLuminance(img: Bitmap, lum: Float32Array = new Float32Array(img.width * img.height)): { lum: Float32Array; hadAlpha: boolean } {
  const n = img.width * img.height;
  const d = img.data;
  let transparent = 0;
  let opaqueLum = 0;
  let opaque = 0;
  for (let i = 0, j = 0; i < n; i++, j += 4) {
    const a = d[j + 3];
    const l = luma(d[j], d[j + 1], d[j + 2]);
    lum[i] = l;
    if (a < 250) transparent++;
    if (a > 128) { opaqueLum += l; opaque++; }
  }
  const hadAlpha = transparent > 0;
  if (!hadAlpha) return { lum, hadAlpha }; // opaque (most uploads): one pass
  // Strokes dark (or no opaque pixels) → white background; light strokes → black background.
  const bg = opaque > 0 && opaqueLum / opaque >= 128 ? 0 : 255;
  for (let i = 0; i < n; i++) {
    const a = d[i * 4 + 3] / 255;
    lum[i] = a * lum[i] + (1 - a) * bg;
  }
  return { lum, hadAlpha };
}

/** Box-averages by an integer factor so the longer side is at most `max`. */
function shrink(v: Float32Array, w: number, h: number, max: number): { v: Float32Array; w: number; h: number } {
  const f = Math.ceil(Math.max(w, h) / max);
  if (f <= 1) return { v, w, h };
  const nw = Math.floor(w / f);
  const nh = Math.floor(h / f);
  const out = new Float32Array(nw * nh);
  for (let y = 0; y < nh; y++) {
    for (let x = 0; x < nw; x++) {
      let s = 0;
      for (let yy = 0; yy < f; yy++) {
        const row = (y * f + yy) * w + x * f;
        for (let xx = 0; xx < f; xx++) s += v[row + xx];
      }
      out[y * nw + x] = s / (f * f);
    }
  }
  return { v: out, w: nw, h: nh };
}

/**
 * Resamples a w×h image to nw×nh with area averaging (anti-aliased when shrinking) or bilinear
 * interpolation (when enlarging).
 */
export function resample(v: Float32Array, w: number, h: number, nw: number, nh: number): Float32Array {
  const out = new Float32Array(nw * nh);
  const sx = w / nw;
  const sy = h / nh;
  if (sx >= 1 && sy >= 1) {
    for (let y = 0; y < nh; y++) {
      const y0 = y * sy, y1 = y0 + sy;
      for (let x = 0; x < nw; x++) {
        const x0 = x * sx, x1 = x0 + sx;
        let acc = 0;
        for (let yy = Math.floor(y0); yy < Math.ceil(y1); yy++) {
          const cy = Math.min(yy + 1, y1) - Math.max(yy, y0);
          for (let xx = Math.floor(x0); xx < Math.ceil(x1); xx++) {
            const cx = Math.min(xx + 1, x1) - Math.max(xx, x0);
            acc += v[Math.min(h - 1, yy) * w + Math.min(w - 1, xx)] * cx * cy;
          }
        }
        out[y * nw + x] = acc / (sx * sy);
      }
    }
    return out;
  }
  for (let y = 0; y < nh; y++) {
    const fy = Math.max(0, Math.min(h - 1, (y + 0.5) * sy - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(h - 1, y0 + 1), ty = fy - y0;
    for (let x = 0; x < nw; x++) {
      const fx = Math.max(0, Math.min(w - 1, (x + 0.5) * sx - 0.5));
      const x0 = Math.floor(fx), x1 = Math.min(w - 1, x0 + 1), tx = fx - x0;
      out[y * nw + x] = (v[y0 * w + x0] * (1 - tx) + v[y0 * w + x1] * tx) * (1 - ty) + (v[y1 * w + x0] * (1 - tx) + v[y1 * w + x1] * tx) * ty;
    }
  }
  return out;
}

function centreOfMass(v: Float32Array, w: number, h: number): [number, number] {
  let m = 0, mx = 0, my = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) { const p = v[y * w + x]; m += p; mx += p * x; my += p * y; }
  return m > 0 ? [mx / m, my / m] : [(w - 1) / 2, (h - 1) / 2];
}

/** Where MNIST puts the centre of mass (pixel-index coordinates; measured mean over the test set: 14.01, 13.99). */
const MNIST_CENTRE = 14;

/**
 * Does a 28×28 luminance image already look like an MNIST digit: dark field (after flipping the polarity
 * when `inverted`), small box, centred?
 */
function looksLikeMnist(lum: Float32Array, inverted: boolean): boolean {
  const size = IMAGE_SIZE; // a local: the compiled module reads imports as properties, once per use
  const ink = inverted ? lum.map((v) => 255 - v) : lum;
  let minX = size, minY = size, maxX = -1, maxY = -1, dark = 0;
  for (let y = 0; y < size; y++) for (let x = 0; x < size; x++) {
    const v = ink[y * size + x];
    if (v <= 25) dark++;
    else { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
  }
  if (maxX < 0 || dark < PIXELS / 2) return false;
  const [cx, cy] = centreOfMass(ink, IMAGE_SIZE, IMAGE_SIZE);
  return Math.max(maxX - minX, maxY - minY) + 1 <= DIGIT_BOX + 1 && Math.abs(cx - MNIST_CENTRE) <= 1.5 && Math.abs(cy - MNIST_CENTRE) <= 1.5;
}

/**
 * A 28×28 picture as it is (pixel / 255) and inverted, the polarity its ink suggests first; none when it
 * is flat (no mark at all).
 */
function wholeCandidates(lum: Float32Array, darkInk: boolean): WholeReading[] | undefined {
  let lo = 255, hi = 0;
  for (const v of lum) { lo = Math.min(lo, v); hi = Math.max(hi, v); }
  if (hi - lo < MIN_WHOLE_CONTRAST) return undefined;
  const asIs = { input: lum.map((v) => v / 255), inverted: false };
  const flipped = { input: lum.map((v) => (255 - v) / 255), inverted: true };
  return darkInk ? [flipped, asIs] : [asIs, flipped];
}

/**
 * Grey levels between a 28×28 picture's darkest and lightest pixel below which it holds no mark to
 * read as it is (JPEG noise on a blank square stays under it).
 */
const MIN_WHOLE_CONTRAST = 48;

/**
 * Turns any decoded image into what an MNIST digit looks like, the way MNIST itself was made:
 * composite transparency, luminance, then find the digit on the page (findDigit: illumination flattened,
 * rules, specks, shadows and page edges dropped, polarity to light ink on dark), crop to it, longer side
 * to 20 px with anti-aliasing, centre of mass at the centre of 28×28, [0,1]. A 28×28 image that already
 * looks like MNIST passes through unchanged (pixel / 255). `info.empty`: no digit was found, the input
 * is all zeros.
 */
function preprocessWith(img: Bitmap, buffers: Buffers, sourceWidth = img.width): Preprocessed {
  const { lum, hadAlpha } = toLuminance(img, buffers.luminance(img.width * img.height));
  const out = buffers.input();
  let whole: WholeReading[] | undefined;
  if (img.width === IMAGE_SIZE && img.height === IMAGE_SIZE) {
    const band = Math.max(1, Math.round(IMAGE_SIZE * 0.05));
    const level = borderMedian(lum, IMAGE_SIZE, IMAGE_SIZE, band, buffers.histogram);
    const inverted = level > 127;
    if (looksLikeMnist(lum, inverted)) {
      for (let i = 0; i < out.length; i++) out[i] = (inverted ? 255 - lum[i] : lum[i]) / 255;
      return { input: out, info: { path: 'passthrough', inverted, hadAlpha, empty: false }, box: WHOLE_28 };
    }
    whole = wholeCandidates(lum, inkIsDark(lum, level));
  }
  const { v, w, h } = shrink(lum, img.width, img.height, WORK_SIZE);
  const page = findInk(v, w, h, undefined, buffers.work);
  const found = digitFromInk(page, w, h, undefined, buffers.work);
  // Printed text on the page: its letters are no digits of a number, and the layouts read without them.
  const unprinted = withoutPrintedText(page);
  // Boxes in the uploaded picture's pixels: the working image is the picture shrunk by a whole factor.
  const f = sourceWidth / w;
  const scaleBox = (b: Box): PixelBox => ({ x: Math.round(b.x0 * f), y: Math.round(b.y0 * f), width: Math.round((b.x1 - b.x0 + 1) * f), height: Math.round((b.y1 - b.y0 + 1) * f) });
  // A digit cut tightly reaches the edges, where the page pipeline drops strokes, and a thick marker's
  // strokes are taken for paper, leaving a sliver; a mark found clear of the edges and as large as the
  // whole picture's ink was seen whole.
  const edge = Math.max(1, Math.round(EDGE_SHARE * Math.min(w, h)));
  const area = (b: Box) => (b.x1 - b.x0 + 1) * (b.y1 - b.y0 + 1);
  const clear = (c: Box) => !!found && found.box.x0 >= edge && found.box.y0 >= edge && found.box.x1 < w - edge && found.box.y1 < h - edge
    && area(c) <= SEEN_WHOLE * area(found.box);
  // A 'print' reading around the page's own parts is the page's reading: the model need not read it twice.
  const samePage = (c: Box) => !!found && c.x0 === found.box.x0 && c.y0 === found.box.y0 && c.x1 === found.box.x1 && c.y1 === found.box.y1;
  const alternatives = whole ? undefined : layoutCandidates(v, w, h, page, unprinted, buffers.alternatives).filter((c) => !(c.kind === 'print' && samePage(c.box))).map((c): Alternative => {
    const input = buffers.input();
    toMnistInput(c.crop, c.cw, c.ch, input);
    const alt: Alternative = { kind: c.kind, input, box: scaleBox(c.box), inverted: c.inverted, needsDoubt: c.kind === 'tight' && clear(c.box) };
    if (c.sheet) alt.sheet = scaleBox(c.sheet);
    if (c.sheetRows) {
      const r = c.sheetRows;
      alt.sheetRows = { y0: r.y0 * f, step: r.step * f, left: r.left.map((x) => x * f), right: r.right.map((x) => (x + 1) * f - 1) };
    }
    return alt;
  });
  if (!found) return { input: out, info: { path: 'normalized', inverted: false, hadAlpha, empty: true }, whole, alternatives };
  const { crop, cw, ch } = cropFound(found, w);
  toMnistInput(crop, cw, ch, out);
  // findDigit's `inverted` says the ink was lighter than the paper: then it was not inverted for the model.
  const result: Preprocessed = { input: out, info: { path: 'normalized', inverted: !found.inverted, hadAlpha, empty: false }, box: scaleBox(found.box), whole, alternatives };
  const line = findLine(unprinted ?? page, w, h, buffers.work);
  if (line) {
    const inputs = new Float32Array(line.candidates.length * PIXELS);
    line.crops.forEach((c, k) => toMnistInput(c.ink, c.w, c.h, inputs.subarray(k * PIXELS, (k + 1) * PIXELS)));
    result.line = {
      atoms: line.atoms, skippable: line.skippable, cutStrokes: line.cutStrokes, inputs,
      candidates: line.candidates.map((c) => ({ start: c.start, end: c.end, box: scaleBox(c.box) })),
    };
  }
  return result;
}

/**
 * MNIST's recipe for a crop of a digit's ink (0..1, cw × ch, tight around it): longer side to 20 px with
 * anti-aliasing, centre of mass at the centre of 28×28, into `out`.
 */
export function toMnistInput(crop: Float32Array, cw: number, ch: number, out: Float32Array): void {
  const scale = DIGIT_BOX / Math.max(cw, ch);
  const nw = Math.max(1, Math.round(cw * scale));
  const nh = Math.max(1, Math.round(ch * scale));
  const digit = resample(crop, cw, ch, nw, nh);
  const [cx, cy] = centreOfMass(digit, nw, nh);
  // Sub-pixel translation putting the centre of mass where MNIST has it (bilinear).
  const ox = MNIST_CENTRE - cx;
  const oy = MNIST_CENTRE - cy;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const sy = y - oy;
    const y0 = Math.floor(sy);
    const ty = sy - y0;
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const sx = x - ox;
      const x0 = Math.floor(sx);
      const tx = sx - x0;
      const at = (xx: number, yy: number) => (xx < 0 || yy < 0 || xx >= nw || yy >= nh ? 0 : digit[yy * nw + xx]);
      const v = (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty;
      out[y * IMAGE_SIZE + x] = Math.min(1, Math.max(0, v));
    }
  }
}

/** The working memory one thread's preprocessing reuses from call to call. */
interface Buffers {
  luminance(n: number): Float32Array;
  histogram: Uint32Array<ArrayBuffer>;
  input(): Float32Array;
  /** The digit finder's working memory, for the page... */
  work: Workspace;
  /** ...and for the other layouts, whose sheet is a page of its own while the page's ink is still needed. */
  alternatives: Workspace;
}

/** Preprocessing with buffers of its own: see createPreprocessor. */
export interface Preprocessor {
  /**
   * Any decoded image → the model's 28×28 input (the recipe: preprocessWith). The input is
   * the caller's to keep; it is a view into a slab shared with this preprocessor's other inputs, so
   * transfer a copy to another thread, never the input itself. `sourceWidth`: the picture's width
   * before a decoder shrank it, so boxes are given in the picture's own pixels.
   */
  run(img: Bitmap, sourceWidth?: number): Preprocessed;
}

/** Inputs carved from one slab (~0.3 µs each, against ~2.5 µs for a new 784-float array). */
const SLAB_INPUTS = 64;
/**
 * Luminance buffers up to this many values are reused: a photo the decoders shrank to 512 px fits; a
 * larger picture (a big PNG, shrunk here) is not kept pinned in memory.
 */
const SCRATCH_MAX = 512 * 512;

/**
 * A preprocessor for one thread. Allocation on the request path costs: a new typed array of a few KB
 * takes ~2.5 µs here (its memory lives outside the JS heap), as much as a pass over a 28×28 image, and
 * each one is more work for the garbage collector on the HTTP thread. So the luminance buffer, the
 * histogram and the digit finder's working memory (workspace.ts) are reused (run is synchronous: nothing
 * else can use them in between), and inputs are views of shared slabs.
 * @example const p = createPreprocessor(); p.run(bitmap).input // Float32Array(784), values in [0,1]
 */
export function createPreprocessor(): Preprocessor {
  let scratch = new Float32Array(IMAGE_SIZE * IMAGE_SIZE);
  let slab = new Float32Array(0);
  let slabUsed = SLAB_INPUTS;
  const buffers: Buffers = {
    luminance(n) {
      if (n > SCRATCH_MAX) return new Float32Array(n);
      if (scratch.length < n) scratch = new Float32Array(n);
      return scratch.subarray(0, n);
    },
    histogram: new Uint32Array(256),
    work: createWorkspace(),
    alternatives: createWorkspace(),
    input() {
      if (slabUsed === SLAB_INPUTS) {
        slab = new Float32Array(SLAB_INPUTS * PIXELS);
        slabUsed = 0;
      }
      return slab.subarray(slabUsed * PIXELS, ++slabUsed * PIXELS);
    },
  };
  return { run: (img, sourceWidth) => preprocessWith(img, buffers, sourceWidth) };
}
