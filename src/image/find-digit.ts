/**
 * Finds the one handwritten digit in a picture of a page, the way document-image tools do: flatten the
 * illumination, remove printed rules, binarise, label connected components, keep the digit's components
 * and drop specks, page edges, shadows and lines. The grey levels of what is kept stay soft (MNIST's
 * strokes are anti-aliased, not binary).
 *
 * All images here are Float32Array, row-major, w × h.
 */
import { createWorkspace, Workspace } from './workspace';

/** An axis-aligned box in pixels, inclusive. */
export interface Box { x0: number; y0: number; x1: number; y1: number }

export interface FoundDigit {
  /** Ink in [0,1] (0 = paper) of the digit's components only; everything else is 0. w × h. */
  ink: Float32Array;
  /** The digit's bounding box in pixels, inclusive. */
  box: Box;
  /** True when the ink was lighter than the paper (white chalk on a board, an inverted screenshot). */
  inverted: boolean;
}

export interface FindDigitOptions {
  /** Below this contrast (ink units, 0..1) nothing counts as a stroke. */
  minContrast: number;
  /** The digit's longer side must be at least this share of the image's shorter side... */
  minDigitFraction: number;
  /** ...and at least this many pixels (or the whole short side of a tiny image, times 0.3). */
  minDigitPixels: number;
}

const FIND_DIGIT_DEFAULTS: Readonly<FindDigitOptions> = Object.freeze({
  minContrast: 0.12,
  minDigitFraction: 0.04,
  minDigitPixels: 8,
});

/** Short side of the grid the background is estimated on: coarse enough that strokes vanish in it. */
const BG_GRID = 32;
/** Closing radius on that grid: the window is a quarter of the short side, wider than any stroke. */
const BG_RADIUS = 4;
/** Grey levels by which one residual's tail must beat the other to decide the polarity alone. */
const POLARITY_MARGIN = 24;
/** Ink (0..1, after the stretch) that counts for the digit's bounding box. */
export const BOX_INK = 0.1;
/** A residual tail this far from the page (grey levels) is ink, not noise or light. */
const STRONG_TAIL = 60;
/** Images smaller than this (short side) get a flat background: a digit fills them, there is no page. */
const FLAT_BG_BELOW = 64;
/**
 * Border levels below which the paper is taken to be dark (light ink on a board or a screen). The two
 * cases differ on purpose: a small image's border is its background with nothing to dim it, so the
 * middle grey splits; a large picture without a clear ink tail is most often a page in dim light (grey
 * 100–130 in photos), so it is called dark only well below the middle.
 */
const SMALL_IMAGE_DARK_BORDER = 128;
const DIM_PAGE_DARK_BORDER = 96;
/** Share of the sampled pixels that make a residual's far tail (the ink is a few per cent of a page). */
const TAIL_SHARE = 0.005;

/** Median of a small array, in place (quickselect). */
function median(a: Float32Array, n: number): number {
  let lo = 0, hi = n - 1;
  const k = n >> 1;
  while (lo < hi) {
    const pivot = a[(lo + hi) >> 1];
    let i = lo, j = hi;
    while (i <= j) {
      while (a[i] < pivot) i++;
      while (a[j] > pivot) j--;
      if (i <= j) { const t = a[i]; a[i] = a[j]; a[j] = t; i++; j--; }
    }
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else break;
  }
  return a[k];
}

/** A coarse copy of the image (block means), gw × gh cells. */
interface Grid { g: Float32Array; gw: number; gh: number }

function blockMeans(v: Float32Array, w: number, h: number): Grid {
  const f = Math.min(w, h) / BG_GRID;
  const gw = Math.max(1, Math.round(w / f)), gh = Math.max(1, Math.round(h / f));
  const g = new Float32Array(gw * gh);
  for (let gy = 0; gy < gh; gy++) {
    const y0 = Math.floor((gy * h) / gh), y1 = Math.max(y0 + 1, Math.floor(((gy + 1) * h) / gh));
    for (let gx = 0; gx < gw; gx++) {
      const x0 = Math.floor((gx * w) / gw), x1 = Math.max(x0 + 1, Math.floor(((gx + 1) * w) / gw));
      let sum = 0;
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) sum += v[y * w + x];
      g[gy * gw + gx] = sum / ((y1 - y0) * (x1 - x0));
    }
  }
  return { g, gw, gh };
}

/** Max (or min) over a (2r+1)² square, separably; edges clamped. */
function extremum(src: Grid, r: number, max: boolean): Grid {
  const { gw, gh } = src;
  const tmp = new Float32Array(gw * gh);
  const out = new Float32Array(gw * gh);
  const pick = max ? Math.max : Math.min;
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) {
    let m = src.g[y * gw + x];
    for (let k = Math.max(0, x - r); k <= Math.min(gw - 1, x + r); k++) m = pick(m, src.g[y * gw + k]);
    tmp[y * gw + x] = m;
  }
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) {
    let m = tmp[y * gw + x];
    for (let k = Math.max(0, y - r); k <= Math.min(gh - 1, y + r); k++) m = pick(m, tmp[k * gw + x]);
    out[y * gw + x] = m;
  }
  return { g: out, gw, gh };
}

/** Median over a (2r+1)² square; edges clamped. */
function medianFilter(src: Grid, r: number): Grid {
  const { g, gw, gh } = src;
  const out = new Float32Array(gw * gh);
  const window = new Float32Array((2 * r + 1) ** 2);
  for (let y = 0; y < gh; y++) for (let x = 0; x < gw; x++) {
    let n = 0;
    for (let yy = Math.max(0, y - r); yy <= Math.min(gh - 1, y + r); yy++) {
      for (let xx = Math.max(0, x - r); xx <= Math.min(gw - 1, x + r); xx++) window[n++] = g[yy * gw + xx];
    }
    out[y * gw + x] = median(window, n);
  }
  return { g: out, gw, gh };
}

/** Bilinear from grid cell centres ((g + 0.5) · w / gw) to full size (into `out`, w × h), clamped at the edges. */
function upsample({ g, gw, gh }: Grid, w: number, h: number, out: Float32Array): Float32Array {
  const xi = new Int32Array(w);
  const xt = new Float32Array(w);
  for (let x = 0; x < w; x++) {
    const fx = Math.max(0, Math.min(gw - 1, ((x + 0.5) * gw) / w - 0.5));
    xi[x] = Math.floor(fx);
    xt[x] = fx - xi[x];
  }
  const row = new Float32Array(gw + 1);
  for (let y = 0; y < h; y++) {
    const fy = Math.max(0, Math.min(gh - 1, ((y + 0.5) * gh) / h - 0.5));
    const y0 = Math.floor(fy), y1 = Math.min(gh - 1, y0 + 1), ty = fy - y0;
    for (let gx = 0; gx < gw; gx++) row[gx] = g[y0 * gw + gx] * (1 - ty) + g[y1 * gw + gx] * ty;
    row[gw] = row[gw - 1];
    const o = y * w;
    for (let x = 0; x < w; x++) out[o + x] = row[xi[x]] + (row[xi[x] + 1] - row[xi[x]]) * xt[x];
  }
  return out;
}

/** The grid value at a full-size pixel (nearest cell): for the polarity vote on a sample of pixels. */
const cellAt = ({ g, gw, gh }: Grid, w: number, h: number, x: number, y: number) =>
  g[Math.min(gh - 1, Math.floor((y * gh) / h)) * gw + Math.min(gw - 1, Math.floor((x * gw) / w))];

/**
 * The page's brightness without the ink, and which way the ink goes. On a coarse grid of block means, a
 * morphological closing (max, then min, over a window a quarter of the short side wide) removes dark
 * strokes however much of the window they cover, while it keeps the light's gradients and the sharp
 * edge of a shadow; an opening does the same for light strokes on a dark ground. Polarity: whichever
 * side of a median-filtered grid has the heavier far tail, the ink being the few pixels far from the
 * page's level; where the two are close, the sign of the brightness's skew. Small images get their
 * border's median: a digit fills them, there is no page.
 */
function estimateBackground(v: Float32Array, w: number, h: number, work: Workspace): { bg: Float32Array; inverted: boolean } {
  const bg = work.float32('background', w * h);
  if (Math.min(w, h) < FLAT_BG_BELOW) {
    const level = borderMedian(v, w, h);
    return { bg: bg.fill(level), inverted: level < SMALL_IMAGE_DARK_BORDER };
  }
  const grid = blockMeans(v, w, h);
  // The vote is taken against a median of the grid: it sides with neither polarity, so the ink shows
  // as the larger deviation (a closing or an opening would each make the other side's paper look inked).
  const med = medianFilter(grid, BG_RADIUS);
  const step = Math.max(1, Math.floor(Math.sqrt((w * h) / 20_000)));
  // Residuals image − median, in whole grey levels: a 511-bin histogram over [-255, 255].
  const residuals = new Uint32Array(511);
  let n = 0;
  let sum = 0;
  for (let y = 0; y < h; y += step) for (let x = 0; x < w; x += step) {
    residuals[Math.round(v[y * w + x] - cellAt(med, w, h, x, y)) + 255]++;
    sum += v[y * w + x];
    n++;
  }
  const tailAbove = (fromTop: boolean) => { // how far the outermost 0.5% reach, on one side
    let acc = 0;
    for (let k = 0; k < 511; k++) {
      const b = fromTop ? 510 - k : k;
      if ((acc += residuals[b]) > n * TAIL_SHARE) return fromTop ? b - 255 : 255 - b;
    }
    return 0;
  };
  const tails = [tailAbove(true), tailAbove(false)]; // light ink, dark ink
  const vote = tails[0] - tails[1];
  // A thick digit that fills much of the picture also fills the median's window, and both tails look
  // alike: then the skew of the brightness decides (the ink is the minority, on the long side). Where
  // neither tail is strong there may be no ink at all, and the usual case stands: paper is the light
  // side unless the picture is dark.
  let inverted = vote > 0;
  if (Math.abs(vote) <= POLARITY_MARGIN && Math.max(...tails) < STRONG_TAIL) inverted = borderMedian(v, w, h) < DIM_PAGE_DARK_BORDER;
  else if (Math.abs(vote) <= POLARITY_MARGIN) {
    const mean = sum / n;
    let m3 = 0;
    for (let y = 0; y < h; y += step) for (let x = 0; x < w; x += step) m3 += (v[y * w + x] - mean) ** 3;
    inverted = m3 > 0;
  }
  const closed = inverted ? extremum(extremum(grid, BG_RADIUS, false), BG_RADIUS, true) : extremum(extremum(grid, BG_RADIUS, true), BG_RADIUS, false);
  return { bg: upsample(closed, w, h, bg), inverted };
}

/**
 * The median of a band along the border, `band` pixels wide (5% of the short side when not given),
 * sampled on large images, from a 256-bin histogram (the caller's, to reuse, or a new one).
 */
export function borderMedian(v: Float32Array, w: number, h: number, band = Math.max(1, Math.round(Math.min(w, h) * 0.05)),
  histogram = new Uint32Array(256)): number {
  histogram.fill(0);
  const step = Math.max(1, Math.floor((w * h) / 40_000));
  let k = 0;
  let n = 0;
  for (let y = 0; y < h; y++) {
    const inner = y >= band && y < h - band;
    for (let x = 0; x < w; x++) {
      if (inner && x === band && w - band > band) {
        x = w - band - 1; // skip the interior of this row
        continue;
      }
      if (k++ % step === 0) {
        const b = Math.round(v[y * w + x]);
        histogram[b < 0 ? 0 : b > 255 ? 255 : b]++;
        n++;
      }
    }
  }
  let acc = 0;
  for (let b = 0; b < 256; b++) if ((acc += histogram[b]) > n >> 1) return b;
  return 255;
}

/**
 * Ink in [0,1]: how much darker (or, inverted, lighter) each pixel is than the page around it, relative
 * to the page's own brightness, so a digit in the shadow or on a dimly lit page has the same contrast
 * as one in full light.
 */
function flatten(v: Float32Array, bg: Float32Array, inverted: boolean, ink: Float32Array): Float32Array {
  for (let i = 0; i < ink.length; i++) {
    const b = bg[i];
    const r = inverted ? (v[i] - b) / (255 - b > 32 ? 255 - b : 32) : (b - v[i]) / (b > 32 ? b : 32);
    ink[i] = r < 0 ? 0 : r > 1 ? 1 : r;
  }
  return ink;
}

/**
 * A printed rule covers its whole row: the level the row's darkest 80% reach. A digit's stroke covers at
 * most about half of a row (the bar of a 7 filling a canvas), so it never sets this level.
 */
const RULE_COVER = 0.2;
/** A row (column) whose level beats the median of its neighbours by this much is a printed rule... */
const RULE_STANDOUT = 0.03;
/** ...and this multiple of its level comes off it: a printed line's ink varies along it, so take a margin. */
const RULE_REMOVAL = 1.5;

/**
 * Removes printed rules: a row (column) whose ink level (RULE_COVER) stands out from the rows around it
 * is a line across the page, so that level is taken off the whole row and only the ink darker than the
 * line itself (a stroke crossing it) stays.
 */
function removeRules(ink: Float32Array, w: number, h: number): void {
  // Row and column levels from 64-bin histograms: exact enough to see a line, and O(1) per pixel.
  const rowHist = new Uint32Array(h * 64);
  const colHist = new Uint32Array(w * 64);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const b = (ink[y * w + x] * 63.99) | 0;
      rowHist[y * 64 + b]++;
      colHist[x * 64 + b]++;
    }
  }
  const profile = (hist: Uint32Array, n: number, len: number): Float32Array => {
    const out = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      let acc = 0, b = 0;
      while (b < 63 && (acc += hist[i * 64 + b]) <= len * RULE_COVER) b++;
      out[i] = (b + 0.5) / 64;
    }
    return out;
  };
  const strip = (prof: Float32Array, apply: (i: number, level: number) => void) => {
    const n = prof.length;
    const k = Math.max(3, Math.round(n / 25));
    const window = new Float32Array(2 * k + 1);
    for (let i = 0; i < n; i++) {
      let m = 0;
      for (let j = Math.max(0, i - k); j <= Math.min(n - 1, i + k); j++) window[m++] = prof[j];
      const level = prof[i] - median(window, m);
      if (level > RULE_STANDOUT) apply(i, prof[i]);
    }
  };
  const rows = profile(rowHist, h, w);
  const cols = profile(colHist, w, h);
  strip(rows, (y, level) => { for (let x = 0; x < w; x++) { const i = y * w + x; ink[i] = Math.max(0, ink[i] - RULE_REMOVAL * level); } });
  strip(cols, (x, level) => { for (let y = 0; y < h; y++) { const i = y * w + x; ink[i] = Math.max(0, ink[i] - RULE_REMOVAL * level); } });
}

/** 3×3 box blur (edges clamped): the mask is taken from this, so single noisy pixels do not form specks. */
function blur3(v: Float32Array, w: number, h: number, work: Workspace): Float32Array {
  const tmp = work.float32('blur', w * h);
  const out = work.float32('smooth', w * h);
  for (let y = 0; y < h; y++) {
    const o = y * w;
    tmp[o] = (2 * v[o] + v[o + (w > 1 ? 1 : 0)]) / 3;
    for (let x = 1; x < w - 1; x++) tmp[o + x] = (v[o + x - 1] + v[o + x] + v[o + x + 1]) / 3;
    if (w > 1) tmp[o + w - 1] = (v[o + w - 2] + 2 * v[o + w - 1]) / 3;
  }
  for (let y = 0; y < h; y++) {
    const up = y > 0 ? (y - 1) * w : 0, o = y * w, down = y < h - 1 ? (y + 1) * w : o;
    for (let x = 0; x < w; x++) out[o + x] = (tmp[up + x] + tmp[o + x] + tmp[down + x]) / 3;
  }
  return out;
}

/** Otsu's threshold of values in [0,1] (256 bins): the background is what is at or below it. */
export function otsu(v: Float32Array): number {
  const hist = new Uint32Array(256);
  // (x + 0.5) | 0 rounds as Math.round does for x ≥ 0, several times faster here.
  for (let i = 0; i < v.length; i++) {
    const b = (v[i] * 255 + 0.5) | 0;
    hist[b > 255 ? 255 : b]++;
  }
  let sum = 0;
  for (let i = 0; i < 256; i++) sum += i * hist[i];
  let sumB = 0, wB = 0, best = 0, threshold = 0;
  for (let t = 0; t < 256; t++) {
    wB += hist[t];
    if (wB === 0) continue;
    const wF = v.length - wB;
    if (wF === 0) break;
    sumB += t * hist[t];
    const between = wB * wF * (sumB / wB - (sum - sumB) / wF) ** 2;
    if (between > best) { best = between; threshold = t; }
  }
  return (threshold + 0.5) / 255; // the top of the last background bin: values above it are foreground
}

export interface Component extends Box { label: number; area: number; mass: number; peak: number; border: boolean }

/** The ink that counts as a stroke: where the smoothed ink passes `t`, with `tLow` for hysteresis. */
export interface Strokes { smooth: Float32Array; t: number; tLow: number }

/** Hysteresis: parts reach down to this share of the threshold, so a stroke that fades stays whole. */
const HYSTERESIS_LOW = 0.6;
/** Parts smaller than this share of the picture (or 3 pixels) are specks. */
const MIN_PART_AREA = 0.0002;
/** A printed line or page edge spans more than this share of the picture one way... */
const LINE_SPAN = 0.6;
/** ...and is thinner than this share of the short side (its area over its length) the other. */
const LINE_THICKNESS = 0.03;
/** A part joins the digit when its gap to the digit's box is within this share of the box's longer side... */
const PART_REACH = 0.2;
/** ...and it is at least this share of the main part's area (smaller ones are specks beside it)... */
export const PART_MIN_SHARE = 0.03;
/** ...or, touching the border, at least this share (noise along an edge is small). */
const BORDER_PART_MIN_SHARE = 0.1;
/** A digit is at least this share of the short side of a tiny image (times minDigitPixels elsewhere). */
const TINY_DIGIT_SHARE = 0.3;
/** Soft edges are grown through ink above this share of the threshold... */
export const SOFT_EDGE_FLOOR = 0.25;
/** ...within this share of the digit's longer side around its box (at least 2 pixels). */
export const SOFT_EDGE_MARGIN = 0.1;
/** The strokes' ink at this percentile is stretched to 1, so faint pencil is still a full digit. */
const STRETCH_PERCENTILE = 0.9;
/** The stretch's top stays at least this far above the floor (a digit of the faintest ink is not noise amplified). */
const STRETCH_MIN_RANGE = 0.05;

/**
 * 8-connected flood fill in a w-wide raster, within `rect`, from the `top` pixel indices already on
 * `stack`: each neighbour for which `join` answers true (and marks it, so it is not taken twice) is
 * pushed; `visit` sees every pixel as it leaves the stack.
 */
export function flood8(stack: Int32Array, top: number, w: number, rect: Box, join: (j: number) => boolean, visit?: (i: number) => void): void {
  while (top > 0) {
    const i = stack[--top];
    visit?.(i);
    const x = i % w, y = (i - x) / w;
    for (let dy = -1; dy <= 1; dy++) {
      const yy = y + dy;
      if (yy < rect.y0 || yy > rect.y1) continue;
      for (let dx = -1; dx <= 1; dx++) {
        const xx = x + dx;
        if (xx < rect.x0 || xx > rect.x1) continue;
        const j = yy * w + xx;
        if (join(j)) stack[top++] = j;
      }
    }
  }
}

/** 8-connected components of `mask`; `labels` gets 1-based labels (0 = background). */
function components(mask: Uint8Array, weight: Float32Array, w: number, h: number, labels: Int32Array, work: Workspace): Component[] {
  const out: Component[] = [];
  const stack = work.int32('components', w * h);
  const whole: Box = { x0: 0, y0: 0, x1: w - 1, y1: h - 1 };
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = out.length + 1;
    const c: Component = { label, area: 0, mass: 0, peak: 0, x0: w, y0: h, x1: -1, y1: -1, border: false };
    stack[0] = start;
    labels[start] = label;
    flood8(stack, 1, w, whole, (j) => {
      if (!mask[j] || labels[j]) return false;
      labels[j] = label;
      return true;
    }, (i) => {
      const x = i % w, y = (i - x) / w;
      c.area++;
      c.mass += weight[i];
      if (weight[i] > c.peak) c.peak = weight[i];
      if (x < c.x0) c.x0 = x;
      if (x > c.x1) c.x1 = x;
      if (y < c.y0) c.y0 = y;
      if (y > c.y1) c.y1 = y;
    });
    c.border = c.x0 === 0 || c.y0 === 0 || c.x1 === w - 1 || c.y1 === h - 1;
    out.push(c);
  }
  return out;
}

/** Gap between two boxes in pixels (0 when they overlap). */
function gap(a: Box, b: Box): number {
  const dx = Math.max(0, Math.max(a.x0, b.x0) - Math.min(a.x1, b.x1));
  const dy = Math.max(0, Math.max(a.y0, b.y0) - Math.min(a.y1, b.y1));
  return Math.max(dx, dy);
}

export const longerSide = (b: Box) => Math.max(b.x1 - b.x0 + 1, b.y1 - b.y0 + 1);

/**
 * The threshold between paper and stroke: Otsu's on the 3×3-blurred ink (single noisy pixels do not
 * form specks), never below the contrast a stroke must have.
 */
function strokeThreshold(ink: Float32Array, w: number, h: number, minContrast: number, work: Workspace): Strokes {
  const smooth = blur3(ink, w, h, work);
  const t = Math.max(otsu(smooth), minContrast);
  return { smooth, t, tLow: Math.max(t * HYSTERESIS_LOW, minContrast) };
}

/**
 * The parts that may belong to a digit: components of everything above the low threshold that reach
 * the threshold somewhere, less specks and printed lines or page edges.
 */
function strokeParts({ smooth, t, tLow }: Strokes, w: number, h: number, labels: Int32Array, work: Workspace): Component[] {
  const mask = work.zeroedUint8('mask', w * h);
  for (let i = 0; i < mask.length; i++) mask[i] = smooth[i] > tLow ? 1 : 0;
  const all = components(mask, smooth, w, h, labels, work);
  const short = Math.min(w, h);
  const minArea = Math.max(3, MIN_PART_AREA * w * h);
  const lineLike = (c: Component) => {
    const cw = c.x1 - c.x0 + 1, ch = c.y1 - c.y0 + 1;
    return Math.max(cw / w, ch / h) > LINE_SPAN && c.area / Math.max(cw, ch) < LINE_THICKNESS * short;
  };
  return all.filter((c) => c.area >= minArea && c.peak > t && !lineLike(c));
}

/**
 * The heaviest part off the border (parts touching it are shadows and page edges, unless nothing else
 * is there), and the pool it was chosen from.
 */
export function mainPart(parts: Component[]): { main: Component; pool: Component[] } | undefined {
  const inside = parts.filter((c) => !c.border);
  const pool = inside.length > 0 ? inside : parts;
  if (pool.length === 0) return undefined;
  return { main: pool.reduce((a, b) => (b.mass > a.mass ? b : a)), pool };
}

/** A letter of printed text is at most this share of the tallest part's height (the handwritten digit)... */
const TEXT_HEIGHT = 0.5;
/** ...and stands in a row of at least this many such marks... */
const TEXT_ROW = 3;
/** ...each within this many of the taller one's heights of the next, at most twice as tall as it, sharing half of the lower one's rows. */
const LETTER_GAP = 1;

/**
 * The labels of parts that are printed text beside a handwritten digit: rows of at least TEXT_ROW
 * letters or words (letters run together) off the border, each much lower than the tallest part, of
 * like heights, side by side on a line. A digit's neighbours in a number are as tall as it. Nothing
 * tells the pieces of a flat stroke broken three times from a word, so only the hypotheses and the
 * number's line leave them out; the page's own reading keeps them.
 */
export function textParts(parts: Component[]): Set<number> {
  const text = new Set<number>();
  const pool = parts.filter((c) => !c.border);
  if (pool.length === 0) return text;
  const tallest = Math.max(...pool.map((c) => c.y1 - c.y0 + 1));
  const letters = pool.filter((c) => c.y1 - c.y0 + 1 <= TEXT_HEIGHT * tallest).sort((a, b) => a.x0 - b.x0);
  // Rows as a union-find over neighbours; the letters are sorted by their left edge, so the scan for
  // a letter's right-hand neighbours stops at the first one too far right for any of them.
  const root = letters.map((_, i) => i);
  const find = (i: number): number => (root[i] === i ? i : (root[i] = find(root[i])));
  for (let i = 0; i < letters.length; i++) {
    const a = letters[i], ah = a.y1 - a.y0 + 1;
    for (let j = i + 1; j < letters.length; j++) {
      const b = letters[j], bh = b.y1 - b.y0 + 1;
      if (b.x0 - a.x1 > LETTER_GAP * 2 * ah) break;
      const tall = Math.max(ah, bh), low = Math.min(ah, bh);
      const overlap = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0) + 1;
      if (tall > 2 * low || overlap < 0.5 * low || b.x0 - a.x1 > LETTER_GAP * tall) continue;
      root[find(j)] = find(i);
    }
  }
  const rowSize = new Map<number, number>();
  for (let i = 0; i < letters.length; i++) rowSize.set(find(i), (rowSize.get(find(i)) ?? 0) + 1);
  letters.forEach((c, i) => { if ((rowSize.get(find(i)) ?? 0) >= TEXT_ROW) text.add(c.label); });
  return text;
}

/** The page with its printed text's parts left out (textParts), or undefined when it has none. */
export function withoutPrintedText(page: PageInk): PageInk | undefined {
  const text = textParts(page.parts);
  return text.size ? { ...page, parts: page.parts.filter((p) => !text.has(p.label)) } : undefined;
}

/** `box` grown by `margin` on every side, within the w × h picture. */
export function expandBox(box: Box, margin: number, w: number, h: number): Box {
  return { x0: Math.max(0, box.x0 - margin), y0: Math.max(0, box.y0 - margin), x1: Math.min(w - 1, box.x1 + margin), y1: Math.min(h - 1, box.y1 + margin) };
}

/**
 * The ink level stretched to 1: the strokes' STRETCH_PERCENTILE (from their histogram of ink × 255),
 * at least STRETCH_MIN_RANGE above `floor`.
 */
export function stretchTop(strokeHist: Uint32Array, strokePixels: number, floor: number): number {
  let acc = 0, bTop = 255;
  for (let b = 0; b < 256; b++) if ((acc += strokeHist[b]) > strokePixels * STRETCH_PERCENTILE) { bTop = b; break; }
  return Math.max((bTop + 0.5) / 255, floor + STRETCH_MIN_RANGE);
}

/**
 * The digit's parts: the heaviest part off the border (parts touching it are shadows and page edges,
 * unless nothing else is there), then, until nothing changes, every part close to what is kept that is
 * not a speck beside it. A part may touch the border (a drawing to the canvas edge) if it is no bigger
 * than the digit so far (a page edge or a shadow next to the digit is bigger).
 */
function chooseDigitParts(parts: Component[], chosenMain?: Component): { labels: Set<number>; box: Box } | undefined {
  const main = chosenMain ?? mainPart(parts)?.main;
  if (!main) return undefined;
  const labels = new Set([main.label]);
  const box: Box = { x0: main.x0, y0: main.y0, x1: main.x1, y1: main.y1 };
  let keptArea = main.area;
  for (let changed = true; changed;) {
    changed = false;
    const reach = PART_REACH * longerSide(box);
    for (const c of parts) {
      if (labels.has(c.label) || c.area < PART_MIN_SHARE * main.area || gap(c, box) > reach
        || (c.border && (c.area > keptArea || c.area < BORDER_PART_MIN_SHARE * main.area))) continue;
      keptArea += c.area;
      labels.add(c.label);
      box.x0 = Math.min(box.x0, c.x0); box.y0 = Math.min(box.y0, c.y0);
      box.x1 = Math.max(box.x1, c.x1); box.y1 = Math.max(box.y1, c.y1);
      changed = true;
    }
  }
  return { labels, box };
}

/**
 * The chosen strokes and the soft ink around them: grown from their pixels through everything fainter
 * than the threshold but above `floor` (hysteresis), within a margin around the digit's box, so the
 * anti-aliased edges stay whatever the scale and nothing unconnected comes along. Also returns the
 * histogram of the strokes proper (above the threshold), which sets the stretch.
 */
function growSoftEdges(ink: Float32Array, strokes: Strokes, w: number, h: number, labels: Int32Array, chosen: Set<number>, box: Box, floor: number,
  work: Workspace): { keep: Uint8Array; region: Box; strokeHist: Uint32Array; strokePixels: number } {
  const isChosen = new Uint8Array(Math.max(...chosen) + 1); // labels past its end read undefined: not chosen
  for (const l of chosen) isChosen[l] = 1;
  const margin = Math.max(2, Math.round(SOFT_EDGE_MARGIN * longerSide(box)));
  const region = expandBox(box, margin, w, h);
  const keep = work.zeroedUint8('keep', w * h);
  const stack = work.int32('grow', (region.x1 - region.x0 + 1) * (region.y1 - region.y0 + 1));
  let top = 0;
  const strokeHist = new Uint32Array(256);
  let strokePixels = 0;
  for (let y = box.y0; y <= box.y1; y++) for (let x = box.x0; x <= box.x1; x++) {
    const i = y * w + x;
    if (!isChosen[labels[i]]) continue;
    if (strokes.smooth[i] > strokes.t) {
      strokeHist[(ink[i] * 255) | 0]++;
      strokePixels++;
    }
    keep[i] = 1;
    stack[top++] = i;
  }
  flood8(stack, top, w, region, (j) => {
    if (keep[j] || !(ink[j] > floor)) return false;
    keep[j] = 1;
    return true;
  });
  return { keep, region, strokeHist, strokePixels };
}

/**
 * The kept ink stretched so the strokes' STRETCH_PERCENTILE reaches 1, and the box of what is not the
 * faintest halo (which stays in the picture but does not widen the box).
 */
function stretchInk(ink: Float32Array, w: number, h: number, grown: ReturnType<typeof growSoftEdges>, floor: number, work: Workspace): { out: Float32Array; box: Box } {
  const { keep, region, strokeHist, strokePixels } = grown;
  const strong = stretchTop(strokeHist, strokePixels, floor);
  const out = work.zeroedFloat32('digit', w * h);
  const box: Box = { x0: w, y0: h, x1: -1, y1: -1 };
  for (let y = region.y0; y <= region.y1; y++) for (let x = region.x0; x <= region.x1; x++) {
    const i = y * w + x;
    if (!keep[i]) continue;
    const s = (ink[i] - floor) / (strong - floor);
    if (s <= 0) continue;
    out[i] = s >= 1 ? 1 : s;
    if (s < BOX_INK) continue;
    if (x < box.x0) box.x0 = x;
    if (x > box.x1) box.x1 = x;
    if (y < box.y0) box.y0 = y;
    if (y > box.y1) box.y1 = y;
  }
  return { out, box };
}

/**
 * Finds the digit in luminance `v` (0..255). Undefined when nothing survives as a stroke: a blank page,
 * a flat colour, paper texture, an empty canvas.
 */
export function findDigit(v: Float32Array, w: number, h: number, opts: FindDigitOptions = FIND_DIGIT_DEFAULTS,
  work: Workspace = createWorkspace()): FoundDigit | undefined {
  return digitFromInk(findInk(v, w, h, opts, work), w, h, opts, work);
}

/**
 * findDigit's choice of parts and soft edges, from the page's ink already found, around `main` (one of
 * the page's parts; the heaviest off the border when not given). With a workspace, the
 * digit's ink is a view of its slot: valid until digitFromInk runs again with that workspace.
 */
export function digitFromInk(page: PageInk, w: number, h: number, opts: FindDigitOptions = FIND_DIGIT_DEFAULTS,
  work: Workspace = createWorkspace(), main?: Component): FoundDigit | undefined {
  const digit = chooseDigitParts(page.parts, main);
  if (!digit || !bigEnough(digit.box, w, h, opts)) return undefined;
  const { ink, strokes, labels, inverted } = page;
  const floor = strokes.t * SOFT_EDGE_FLOOR;
  const grown = growSoftEdges(ink, strokes, w, h, labels, digit.labels, digit.box, floor, work);
  const { out, box } = stretchInk(ink, w, h, grown, floor, work);
  return { ink: out, box, inverted };
}

/** A found digit's ink cut to its box (cw × ch), from a w-wide picture: what MNIST's recipe scales. */
export function cropFound(found: FoundDigit, w: number): { crop: Float32Array; cw: number; ch: number } {
  const { x0, y0, x1, y1 } = found.box;
  const cw = x1 - x0 + 1, ch = y1 - y0 + 1;
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) crop.set(found.ink.subarray((y0 + y) * w + x0, (y0 + y) * w + x0 + cw), y * cw);
  return { crop, cw, ch };
}

/** The page's ink and its stroke parts, before any choice of which parts make a digit. */
export interface PageInk {
  /** Ink in [0,1] relative to the page around it, rules removed. */
  ink: Float32Array;
  strokes: Strokes;
  /** Component label per pixel (0: none); parts' labels index it. */
  labels: Int32Array;
  parts: Component[];
  inverted: boolean;
}

/**
 * Illumination flattened, polarity decided, rules removed, stroke parts labelled (specks and lines
 * dropped). With a workspace, the page's arrays are views of its slots: valid until findInk runs again
 * with that workspace.
 */
export function findInk(v: Float32Array, w: number, h: number, opts: FindDigitOptions = FIND_DIGIT_DEFAULTS,
  work: Workspace = createWorkspace()): PageInk {
  const { bg, inverted } = estimateBackground(v, w, h, work);
  const ink = flatten(v, bg, inverted, work.float32('ink', w * h));
  if (Math.min(w, h) >= FLAT_BG_BELOW) removeRules(ink, w, h);
  const strokes = strokeThreshold(ink, w, h, opts.minContrast, work);
  const labels = work.zeroedInt32('labels', w * h);
  return { ink, strokes, labels, parts: strokeParts(strokes, w, h, labels, work), inverted };
}

/** Is a digit with this box large enough in a w × h picture not to be a speck? */
export function bigEnough(digitBox: Box, w: number, h: number, opts: FindDigitOptions = FIND_DIGIT_DEFAULTS): boolean {
  const short = Math.min(w, h);
  const side = longerSide(digitBox);
  return !(side < Math.min(opts.minDigitPixels, TINY_DIGIT_SHARE * short) || side < opts.minDigitFraction * short);
}
