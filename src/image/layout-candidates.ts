import { borderMedian, Box, Component, cropFound, digitFromInk, findInk, longerSide, mainPart, otsu, PageInk } from './find-digit';
import { createWorkspace, Workspace } from './workspace';

/**
 * Other hypotheses of where the digit is, beside the page pipeline's (find-digit.ts), for the model to
 * score: the predictor reads every candidate with the page's crop, and the reading worth most answers.
 * Each one is for a layout the page pipeline misreads:
 * - 'tight': the whole picture is the digit's crop (a tight crop, a thick marker filling the frame, an
 *   enlarged low-resolution scan), where the page's background estimate takes thick strokes for paper
 *   and strokes touching the edge are dropped as shadows;
 * - 'sheet': a sheet or card lying on a darker surface, where the sheet itself is taken for light ink:
 *   the sheet is found, everything outside it painted with its paper, and the page pipeline run on it;
 * - 'frame': the digit inside a printed box, which the page pipeline keeps with the digit: the box is
 *   dropped and the parts inside it kept;
 * - 'print': the digit on a printed page, where the page pipeline joins the printed text beside it:
 *   the rows of letters are dropped and the digit chosen from what is left.
 */
export type CandidateKind = 'tight' | 'sheet' | 'frame' | 'print';

/** A region's left and right ends in each band of `step` rows from `y0`. */
export interface SheetRows { y0: number; step: number; left: number[]; right: number[] }

export interface LayoutCandidate {
  kind: CandidateKind;
  /** The digit's ink (0..1), cw × ch, tight around it, ready for MNIST's recipe. */
  crop: Float32Array;
  cw: number;
  ch: number;
  /** The crop's box in the working image. */
  box: Box;
  /** True when the ink was darker than its background (inverted for the model), as PreprocessInfo's. */
  inverted: boolean;
  /** A sheet's box in the working image: what lies outside it is the surface the sheet lies on. */
  sheet?: Box;
  /** The sheet's extent in each band of `step` rows from its box's top, in the working image (a turned sheet leaves desk inside its box). */
  sheetRows?: SheetRows;
}

/**
 * Whether a picture's ink is darker than its ground: the pixels darker than the border's level weigh
 * more than those lighter. Not "is the border light": a digit on a grey ground lifted above mid-grey
 * (fog, a brightness change) has light ink all the same.
 */
export function inkIsDark(lum: Float32Array, level: number): boolean {
  let lighter = 0, darker = 0;
  for (const v of lum) {
    if (v > level) lighter += v - level;
    else darker += level - v;
  }
  return darker > lighter;
}

/** The whole-picture hypotheses look at the picture at most this many pixels on its longer side. */
const COARSE_SIZE = 160;

/** A picture box-averaged by a whole factor `f` to cw × ch. */
interface Coarse { c: Float32Array; cw: number; ch: number; f: number }

/** The picture box-averaged to at most COARSE_SIZE on its longer side (itself when already that small). */
function coarse(v: Float32Array, w: number, h: number): Coarse {
  const f = Math.max(1, Math.ceil(Math.max(w, h) / COARSE_SIZE));
  if (f === 1) return { c: v, cw: w, ch: h, f };
  const cw = Math.floor(w / f), ch = Math.floor(h / f);
  const c = new Float32Array(cw * ch);
  for (let y = 0; y < ch * f; y++) {
    const row = Math.floor(y / f) * cw;
    for (let x = 0; x < cw * f; x++) c[row + Math.floor(x / f)] += v[y * w + x];
  }
  for (let i = 0; i < c.length; i++) c[i] /= f * f;
  return { c, cw, ch, f };
}

/** Share of the ink mass left out on each side of the tight box (stray specks, JPEG ringing). */
const TIGHT_TRIM = 0.005;
/** Grey levels the strongest ink stands out from the border's level, at least. */
const MIN_TIGHT_CONTRAST = 40;
/** Share of the picture's edge pixels that may be ink in a crop of a digit. */
const TIGHT_EDGE_INK = 0.15;
/** The tight reading's threshold is Otsu's on the contrast, never under this share of the strongest ink. */
const TIGHT_MIN_T = 0.2;

/**
 * The whole picture as the digit's crop: contrast against the border's level, trimmed to its ink, on
 * the coarse picture.
 */
function tightCandidate({ c: v, cw: w, ch: h, f }: Coarse, fw: number, fh: number): LayoutCandidate | undefined {
  const level = borderMedian(v, w, h);
  const dark = inkIsDark(v, level);
  const ink = new Float32Array(w * h);
  let top = 0;
  for (let i = 0; i < v.length; i++) {
    const c = dark ? level - v[i] : v[i] - level;
    ink[i] = c > 0 ? c : 0;
    if (ink[i] > top) top = ink[i];
  }
  if (top < MIN_TIGHT_CONTRAST) return undefined; // no mark stands out from the border's level
  for (let i = 0; i < ink.length; i++) ink[i] /= top;
  const t = Math.max(TIGHT_MIN_T, otsu(ink));
  const cols = new Float64Array(w), rows = new Float64Array(h);
  let mass = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const a = ink[y * w + x];
    if (a < t) continue;
    cols[x] += a; rows[y] += a; mass += a;
  }
  if (mass === 0) return undefined;
  // A digit's crop has paper along its edges but where strokes run out of it; ink along much of them is
  // a shadow, a falloff of the light or a surface, and the picture is no crop of a digit.
  let edgeInk = 0;
  for (let x = 0; x < w; x++) edgeInk += Number(ink[x] >= t) + Number(ink[(h - 1) * w + x] >= t);
  for (let y = 1; y < h - 1; y++) edgeInk += Number(ink[y * w] >= t) + Number(ink[y * w + w - 1] >= t);
  if (edgeInk > TIGHT_EDGE_INK * 2 * (w + h - 2)) return undefined;
  const span = (m: Float64Array): [number, number] => {
    let lo = 0, hi = m.length - 1, acc = 0;
    while (lo < hi && acc + m[lo] <= TIGHT_TRIM * mass) acc += m[lo++];
    acc = 0;
    while (hi > lo && acc + m[hi] <= TIGHT_TRIM * mass) acc += m[hi--];
    return [lo, hi];
  };
  const [cx0, cx1] = span(cols), [cy0, cy1] = span(rows);
  // Cut from the coarse picture: MNIST's recipe scales it to 20 px, which 160 px hold many times over.
  const cw = cx1 - cx0 + 1, ch = cy1 - cy0 + 1;
  // Soft strokes as MNIST has them: a quarter of the threshold is still ink's edge, the strokes' body 1.
  const lo = t / 4, hi = Math.min(1, t * 2);
  const crop = new Float32Array(cw * ch);
  for (let y = 0; y < ch; y++) for (let x = 0; x < cw; x++) {
    const a = (ink[(cy0 + y) * w + cx0 + x] - lo) / (hi - lo);
    crop[y * cw + x] = a < 0 ? 0 : a > 1 ? 1 : a;
  }
  const x0 = cx0 * f, y0 = cy0 * f, x1 = Math.min(fw - 1, cx1 * f + f - 1), y1 = Math.min(fh - 1, cy1 * f + f - 1);
  return { kind: 'tight', crop, cw, ch, box: { x0, y0, x1, y1 }, inverted: dark };
}

/** A sheet covers between these shares of the picture; outside them it is the page or a speck. */
const SHEET_MIN = 0.03, SHEET_MAX = 0.85;
/** The sheet's paper is at least this much lighter than the surface around it (0..255). */
const SHEET_CONTRAST = 40;
/** Across a sheet's edge the level changes by at least this share of its contrast with the surround. */
const SHARP_EDGE = 0.6;
/** A sheet's paper covers at least this share of its box (a sheet turned by 45° covers half). */
const SHEET_FILL = 0.45;
/** Pixels of the sheet's edge painted over with its paper: the edge's blur is not ink. */
const SHEET_EDGE = 2;

/**
 * The largest light region, when it is a sheet lying on a darker surface: the page pipeline run inside
 * it, with everything outside it painted with its paper. Found on the coarse picture.
 */
function sheetCandidate(full: Float32Array, fw: number, fh: number, { c: v, cw: w, ch: h, f }: Coarse, work: Workspace): LayoutCandidate | undefined {
  const scaled = new Float32Array(v.length);
  for (let i = 0; i < v.length; i++) scaled[i] = v[i] / 255;
  const t = otsu(scaled) * 255;
  // A page that fills the frame is light almost everywhere: no sheet to look for, and no labelling.
  let light = 0;
  for (let i = 0; i < v.length; i++) if (v[i] > t) light++;
  if (light < SHEET_MIN * w * h || light > SHEET_MAX * w * h) return undefined;
  const labels = new Int32Array(w * h);
  const stack = new Int32Array(w * h);
  let best = 0, bestArea = 0, label = 0;
  for (let i = 0; i < v.length; i++) {
    if (labels[i] || v[i] <= t) continue;
    labels[i] = ++label;
    let top = 0, area = 0;
    stack[top++] = i;
    while (top > 0) {
      const j = stack[--top];
      area++;
      const x = j % w, y = (j - x) / w;
      for (let dy = y > 0 ? -1 : 0; dy <= (y < h - 1 ? 1 : 0); dy++) {
        for (let dx = x > 0 ? -1 : 0; dx <= (x < w - 1 ? 1 : 0); dx++) {
          const k = j + dy * w + dx;
          if (labels[k] || v[k] <= t) continue;
          labels[k] = label;
          stack[top++] = k;
        }
      }
    }
    if (area > bestArea) { bestArea = area; best = label; }
  }
  if (bestArea < SHEET_MIN * w * h) return undefined;
  // The sheet's rows: from its leftmost to its rightmost pixel (a sheet is convex; the ink on it is not
  // part of the light region but lies between its ends).
  const left = new Int32Array(h).fill(w), right = new Int32Array(h).fill(-1);
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    if (labels[y * w + x] !== best) continue;
    if (x < left[y]) left[y] = x;
    if (x > right[y]) right[y] = x;
  }
  let y0 = h, y1 = -1, x0 = w, x1 = -1;
  for (let y = 0; y < h; y++) {
    if (right[y] < 0) continue;
    y0 = Math.min(y0, y); y1 = Math.max(y1, y); x0 = Math.min(x0, left[y]); x1 = Math.max(x1, right[y]);
  }
  // It lies on the surface: the surface shows on at least three sides (the lighter side of a shadow's
  // or a light's edge runs to the frame on three).
  const sides = Number(x0 === 0) + Number(y0 === 0) + Number(x1 === w - 1) + Number(y1 === h - 1);
  if (sides > 1) return undefined;
  let inside = 0, nIn = 0, outside = 0, nOut = 0;
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    const i = y * w + x;
    if (right[y] >= 0 && x >= left[y] && x <= right[y]) {
      if (labels[i] === best) { inside += v[i]; nIn++; }
    } else { outside += v[i]; nOut++; }
  }
  if (nOut === 0) return undefined;
  const paper = inside / nIn;
  const contrast = paper - outside / nOut;
  if (contrast < SHEET_CONTRAST) return undefined;
  // A sheet's edge is sharp: across two coarse pixels the level changes by most of the contrast. The
  // edge of a shadow or of a light's falloff is soft.
  const steps: number[] = [];
  for (let y = 0; y < h; y++) {
    if (right[y] < 0) continue;
    const l = left[y], r = right[y];
    if (l >= 1 && l + 1 < w) steps.push(v[y * w + l + 1] - v[y * w + l - 1]);
    if (r >= 1 && r + 1 < w) steps.push(v[y * w + r - 1] - v[y * w + r + 1]);
  }
  if (steps.length < 8) return undefined;
  steps.sort((a, b) => a - b);
  if (steps[steps.length >> 1] < SHARP_EDGE * contrast) return undefined;
  // The sheet at full resolution, a coarse pixel and SHEET_EDGE more inside its edge.
  const sx0 = x0 * f, sy0 = y0 * f, sw = Math.min(fw, (x1 + 1) * f) - sx0, sh = Math.min(fh, (y1 + 1) * f) - sy0;
  const sub = new Float32Array(sw * sh);
  for (let y = 0; y < sh; y++) {
    const cy = Math.min(h - 1, Math.floor((sy0 + y) / f));
    const l = (left[cy] + 1) * f + SHEET_EDGE, r = right[cy] * f - SHEET_EDGE;
    const edgeRow = cy <= y0 || cy >= y1;
    for (let x = 0; x < sw; x++) {
      const gx = sx0 + x;
      sub[y * sw + x] = !edgeRow && right[cy] >= 0 && gx >= l && gx < r ? full[(sy0 + y) * fw + gx] : paper;
    }
  }
  const found = digitFromInk(findInk(sub, sw, sh, undefined, work), sw, sh, undefined, work);
  if (!found) return undefined;
  const b = found.box;
  const { crop, cw, ch } = cropFound(found, sw);
  return {
    kind: 'sheet', crop, cw, ch, box: { x0: sx0 + b.x0, y0: sy0 + b.y0, x1: sx0 + b.x1, y1: sy0 + b.y1 }, inverted: !found.inverted,
    // Only paper that fills its box is a sheet the ink must lie on: chalk strokes on a board are a light
    // region too, but a thin one.
    ...(bestArea >= SHEET_FILL * (x1 - x0 + 1) * (y1 - y0 + 1) ? {
      sheet: { x0: sx0, y0: sy0, x1: sx0 + sw - 1, y1: sy0 + sh - 1 },
      sheetRows: { y0: sy0, step: f, left: Array.from(left.subarray(y0, y1 + 1), (l) => l * f), right: Array.from(right.subarray(y0, y1 + 1), (r) => (r + 1) * f - 1) },
    } : {}),
  };
}

/** A frame's pixels lie within this share of its box's size from the box's edges... */
const FRAME_BAND = 0.12;
/** ...this many of them. */
const FRAME_SHARE = 0.9;
/** The largest parts tried as a frame. */
const FRAME_TRIES = 8;

/** Whether part `c` is a printed box: nearly all its pixels lie near the edges of its own box. */
function frameLike(page: PageInk, c: PageInk['parts'][number], w: number): boolean {
  const bw = c.x1 - c.x0 + 1, bh = c.y1 - c.y0 + 1;
  const bx = Math.max(1, FRAME_BAND * bw), by = Math.max(1, FRAME_BAND * bh);
  let near = 0;
  for (let y = c.y0; y <= c.y1; y++) for (let x = c.x0; x <= c.x1; x++) {
    if (page.labels[y * w + x] !== c.label) continue;
    if (x - c.x0 < bx || c.x1 - x < bx || y - c.y0 < by || c.y1 - y < by) near++;
  }
  return near >= FRAME_SHARE * c.area;
}

/** Each side of a box touched by the digit is still ink along this share of its length... */
const SIDE_COVER = 0.9;
/** ...and its line is at most this share of the band thick. */
const LINE_MAX_SHARE = 0.5;

/**
 * A printed box that the digit touches is one part with it. When the part's four sides are each ink
 * along nearly all their length, the sides are the box: the ink of each side's line (as thick as the
 * side's typical run of ink inward from the edge) is taken out, and what is left of the part inside is
 * a part of its own. Answers the page with that part and the lines' ink cleared, or undefined.
 */
function withoutTouchingFrame(page: PageInk, c: Component, w: number): { page: PageInk; part: Component } | undefined {
  const { labels } = page;
  const bw = c.x1 - c.x0 + 1, bh = c.y1 - c.y0 + 1;
  const band = Math.max(2, Math.round(FRAME_BAND * Math.min(bw, bh)));
  // Per side and position along it, the first of the part's pixels inward from the edge within the band
  // (a box photographed at a slant is not on its bounding box's edge everywhere) and the run of ink
  // from there: the line's thickness. Each side gives the pixel index d pixels inward from its i-th position.
  const sides = [
    { n: bw, pixel: (i: number, d: number) => (c.y0 + d) * w + c.x0 + i },
    { n: bw, pixel: (i: number, d: number) => (c.y1 - d) * w + c.x0 + i },
    { n: bh, pixel: (i: number, d: number) => (c.y0 + i) * w + c.x0 + d },
    { n: bh, pixel: (i: number, d: number) => (c.y0 + i) * w + c.x1 - d },
  ];
  const lines: { first: number; run: number }[][] = [];
  for (const side of sides) {
    const at = (i: number, d: number) => labels[side.pixel(i, d)] === c.label;
    const line = Array.from({ length: side.n }, (_, i) => {
      let first = 0;
      while (first < band && !at(i, first)) first++;
      let run = 0;
      while (first + run < band && at(i, first + run)) run++;
      return { first, run };
    });
    if (line.filter((p) => p.run > 0).length < SIDE_COVER * line.length) return undefined;
    lines.push(line);
  }
  const thickness = lines.map((l) => {
    const runs = l.filter((p) => p.run > 0).map((p) => p.run).sort((a, b) => a - b);
    return runs[runs.length >> 1];
  });
  // A printed line is thin beside its box; a thick stroke along every edge is a digit cut tightly.
  if (thickness.some((t) => t > LINE_MAX_SHARE * band)) return undefined;
  const labelsOut = Int32Array.from(labels), ink = Float32Array.from(page.ink);
  sides.forEach((side, k) => {
    const thick = thickness[k] + 1; // the line and its soft edge
    lines[k].forEach(({ first }, i) => {
      for (let d = 0; d < Math.min(band, first + thick); d++) {
        const j = side.pixel(i, d);
        labelsOut[j] = 0;
        ink[j] = 0;
      }
    });
  });
  const label = Math.max(...page.parts.map((p) => p.label)) + 1;
  const part: Component = { label, area: 0, mass: 0, peak: 0, border: false, x0: c.x1, y0: c.y1, x1: c.x0, y1: c.y0 };
  for (let y = c.y0; y <= c.y1; y++) for (let x = c.x0; x <= c.x1; x++) {
    const i = y * w + x;
    if (labelsOut[i] !== c.label) continue;
    labelsOut[i] = label;
    part.area++; part.mass += ink[i]; part.peak = Math.max(part.peak, ink[i]);
    part.x0 = Math.min(part.x0, x); part.x1 = Math.max(part.x1, x); part.y0 = Math.min(part.y0, y); part.y1 = Math.max(part.y1, y);
  }
  if (part.area === 0) return undefined;
  return { page: { ...page, labels: labelsOut, ink }, part };
}

/**
 * The largest printed box with parts inside it: those parts, without the box; or a box the digit
 * touches (one part with it): what is inside the box's lines.
 */
function frameCandidate(page: PageInk, w: number, h: number, work: Workspace): LayoutCandidate | undefined {
  const bySize = [...page.parts].sort((a, b) => (b.x1 - b.x0) * (b.y1 - b.y0) - (a.x1 - a.x0) * (a.y1 - a.y0));
  for (const frame of bySize.slice(0, FRAME_TRIES)) {
    const bw = frame.x1 - frame.x0 + 1, bh = frame.y1 - frame.y0 + 1;
    const inner = page.parts.filter((p) => p.label !== frame.label && p.x0 > frame.x0 && p.x1 < frame.x1 && p.y0 > frame.y0 && p.y1 < frame.y1);
    // More pixels than the band along its box's edges holds: not a bare frame, without looking.
    const bare = frame.area * FRAME_SHARE <= bw * bh * (1 - (1 - 2 * FRAME_BAND) ** 2) && inner.length > 0 && frameLike(page, frame, w);
    const touched = bare ? undefined : withoutTouchingFrame(page, frame, w);
    if (!bare && !touched) continue;
    const found = digitFromInk(touched ? { ...touched.page, parts: [...inner, touched.part] } : { ...page, parts: inner }, w, h, undefined, work);
    if (!found) return undefined;
    return { kind: 'frame', ...cropFound(found, w), box: found.box, inverted: !found.inverted };
  }
  return undefined;
}

/**
 * Every layout hypothesis that applies to a working image `v` (w × h) and its page ink. The whole picture
 * is a hypothesis only where the page pipeline saw strokes: on an empty page its contrast is the light's
 * gradient or the printed rules, which the page pipeline flattens and removes. `unprinted`: the page
 * without its printed text (withoutPrintedText), undefined when it has none.
 */
export function layoutCandidates(v: Float32Array, w: number, h: number, page: PageInk, unprinted: PageInk | undefined,
  work: Workspace = createWorkspace()): LayoutCandidate[] {
  const out: LayoutCandidate[] = [];
  const small = coarse(v, w, h);
  // A picture with printed text on it is no digit's crop.
  const tight = page.parts.length && !unprinted ? tightCandidate(small, w, h) : undefined;
  for (const c of [tight, sheetCandidate(v, w, h, small, work), frameCandidate(page, w, h, work), ...(unprinted ? printCandidates(unprinted, w, h, work) : [])]) if (c) out.push(c);
  return out;
}

/**
 * On a printed page, the digit chosen without the text's letters: around the heaviest part left, and
 * around the largest one when that is another (a printed logo is solid and outweighs a handwritten
 * digit bigger than it).
 */
function printCandidates(unprinted: PageInk, w: number, h: number, work: Workspace): LayoutCandidate[] {
  const found = mainPart(unprinted.parts);
  if (!found) return [];
  const largest = found.pool.reduce((a, b) => (longerSide(b) > longerSide(a) ? b : a));
  const out: LayoutCandidate[] = [];
  for (const main of largest === found.main ? [found.main] : [found.main, largest]) {
    const digit = digitFromInk(unprinted, w, h, undefined, work, main);
    if (digit) out.push({ kind: 'print', ...cropFound(digit, w), box: digit.box, inverted: !digit.inverted });
  }
  return out;
}
