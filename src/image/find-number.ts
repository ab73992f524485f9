import { Box, BOX_INK, Component, expandBox, flood8, mainPart, PageInk, PART_MIN_SHARE, SOFT_EDGE_FLOOR, SOFT_EDGE_MARGIN, stretchTop } from './find-digit';
import { createWorkspace, Workspace } from './workspace';

/**
 * The pieces a line of handwritten digits may be read from, for the model to choose between.
 *
 * Segmenting first and reading second fails on the hard cases (a 5 whose flag came loose, two digits
 * run together), so this module only over-segments: the line's stroke parts, left to right, become
 * atoms, and a part as wide as two digits is also cut at its thinnest columns. Every run of up to
 * MAX_GROUP neighbouring atoms is a candidate character with its own 28×28 input; the predictor asks the
 * model about all of them and keeps the reading it is surest of (read-number.ts).
 */

/** One atom: a stroke part, or the columns of one between two cuts. */
interface Atom {
  label: number;
  /** Columns of the part's pixels (and halo) that belong to this atom: ±∞ at the part's own ends. */
  lo: number;
  hi: number;
  /** Strokes crossed by the cut at the atom's left edge (0: the part's own left end). */
  leftCut: number;
  box: Box;
  area: number;
}

/** A candidate character: atoms [start, end) read as one digit. */
export interface CharacterCandidate {
  start: number;
  end: number;
  /** Box in the working image's pixels, inclusive. */
  box: Box;
}

export interface LineCandidates {
  /** Atoms along the line, left to right. */
  atoms: number;
  /** Atoms small enough to be a stray mark: a reading may leave them out. */
  skippable: boolean[];
  /**
   * For each boundary between atoms (index b: between atoms b − 1 and b; 0 and `atoms` are the line's
   * ends): the strokes a reading cuts if it separates there, 0 where the atoms are different parts.
   */
  cutStrokes: number[];
  candidates: CharacterCandidate[];
  /** The candidates' ink cut out of the page, one w × h crop per candidate (values 0..1). */
  crops: { ink: Float32Array; w: number; h: number }[];
}

/** A candidate joins at most this many neighbouring atoms (a digit broken or cut into four). */
const MAX_GROUP = 4;
/** A part joins the line when its gap to a part on it is within this many line heights... */
const LINE_REACH = 1.2;
/** ...and they share this share of the shorter one's height (a wavering baseline still overlaps). */
const LINE_OVERLAP = 0.3;
/** A part this much wider than the line's height may be two digits run together: cut candidates. */
const CUT_WIDTH = 0.75;
/** Cuts leave at least this share of the line's height on either side, and are this far apart. */
const CUT_MARGIN = 0.25;
/** At most this many cuts per part (three touching digits need two, and each gets a second guess). */
const MAX_CUTS = 6;
/** A cut crosses at most this many strokes (where two digits touch, the joint and perhaps one more). */
const MAX_CUT_RUNS = 2;
/** A part lower than this share of the line's height, and small, may be a stray mark. */
const STRAY_HEIGHT = 0.45;
/** A candidate wider than this many line heights is not one digit. */
const MAX_CHAR_WIDTH = 1.6;
/** The longest number the line is gathered for: at most 4 × this many parts (a digit may come in four pieces). */
const MAX_DIGITS = 20;

const height = (b: Box) => b.y1 - b.y0 + 1;
const width = (b: Box) => b.x1 - b.x0 + 1;
const union = (a: Box, b: Box): Box => ({ x0: Math.min(a.x0, b.x0), y0: Math.min(a.y0, b.y0), x1: Math.max(a.x1, b.x1), y1: Math.max(a.y1, b.y1) });

/** The parts on the line of the heaviest part: chained to it by neighbours that share its height. */
function lineParts(parts: Component[]): Component[] {
  const found = mainPart(parts);
  if (!found) return [];
  const { main, pool } = found;
  const kept = [main];
  const candidates = pool.filter((c) => c !== main && c.area >= PART_MIN_SHARE * main.area);
  for (let changed = true; changed && kept.length < 4 * MAX_DIGITS;) {
    changed = false;
    for (const c of candidates) {
      if (kept.includes(c)) continue;
      const joins = kept.some((k) => {
        const lineH = Math.max(height(k), 0.5 * height(main));
        const gapX = Math.max(0, Math.max(c.x0, k.x0) - Math.min(c.x1, k.x1));
        const overlapY = Math.min(c.y1, k.y1) - Math.max(c.y0, k.y0) + 1;
        return gapX <= LINE_REACH * lineH && overlapY >= LINE_OVERLAP * Math.min(height(c), height(k));
      });
      if (joins) { kept.push(c); changed = true; }
    }
  }
  return kept;
}

/**
 * Where the part may be two digits run together: columns at which it is one stroke only (a single run
 * of ink, as where two digits touch; a cut through a 3 or a 0 would cross two or three strokes), at
 * the thinnest such places, as cut positions (the last column left of the cut).
 */
function cutColumns(part: Component, labels: Int32Array, w: number, lineH: number): { at: number; runs: number }[] {
  const cols = width(part);
  const profile = new Float32Array(cols);
  const runs = new Uint16Array(cols);
  for (let x = part.x0; x <= part.x1; x++) {
    let inRun = false;
    for (let y = part.y0; y <= part.y1; y++) {
      const on = labels[y * w + x] === part.label;
      if (on) profile[x - part.x0]++;
      if (on && !inRun) runs[x - part.x0]++;
      inRun = on;
    }
  }
  const margin = Math.max(1, Math.round(CUT_MARGIN * lineH));
  const smooth = (i: number) => (profile[Math.max(0, i - 1)] + 2 * profile[i] + profile[Math.min(cols - 1, i + 1)]) / 4;
  const minima: { at: number; v: number; runs: number }[] = [];
  for (let i = margin; i < cols - margin; i++) {
    const v = smooth(i);
    if (runs[i] <= MAX_CUT_RUNS && v <= smooth(i - 1) && v <= smooth(i + 1)) minima.push({ at: i, v: v * runs[i], runs: runs[i] });
  }
  minima.sort((a, b) => a.v - b.v);
  const cuts: { at: number; runs: number }[] = [];
  const wanted = Math.min(MAX_CUTS, 2 * Math.max(1, Math.round(cols / lineH)));
  for (const m of minima) {
    if (cuts.length >= wanted) break;
    if (cuts.every((c) => Math.abs(c.at - m.at) >= margin)) cuts.push(m);
  }
  return cuts.sort((a, b) => a.at - b.at).map((c) => ({ at: part.x0 + c.at, runs: c.runs }));
}

/** The box of `label`'s pixels within columns [cx0, cx1]. */
function atomBox(part: Component, labels: Int32Array, w: number, cx0: number, cx1: number): { box: Box; area: number } {
  const box: Box = { x0: cx1, y0: part.y1, x1: cx0, y1: part.y0 };
  let area = 0;
  for (let y = part.y0; y <= part.y1; y++) for (let x = cx0; x <= cx1; x++) {
    if (labels[y * w + x] !== part.label) continue;
    area++;
    if (x < box.x0) box.x0 = x;
    if (x > box.x1) box.x1 = x;
    if (y < box.y0) box.y0 = y;
    if (y > box.y1) box.y1 = y;
  }
  return { box, area };
}

/**
 * Every pixel of soft ink around the line's parts, given to the part it was grown from (multi-source
 * flood through ink above `floor`, so each faint edge goes with the stroke it borders).
 */
function growOwners(page: PageInk, w: number, h: number, parts: Component[], floor: number, region: Box, work: Workspace): Int32Array {
  const owner = work.zeroedInt32('line-owner', w * h);
  const stack = work.int32('line-grow', (region.x1 - region.x0 + 1) * (region.y1 - region.y0 + 1));
  let top = 0;
  for (const p of parts) for (let y = p.y0; y <= p.y1; y++) for (let x = p.x0; x <= p.x1; x++) {
    const i = y * w + x;
    if (page.labels[i] === p.label) { owner[i] = p.label; stack[top++] = i; }
  }
  // A breadth-first order would share the halo more fairly, but a stroke's halo is a few pixels wide:
  // depth-first from every seed at once gives each halo pixel to a neighbouring stroke either way.
  let from = 0;
  flood8(stack, top, w, region, (j) => {
    if (owner[j] || !(page.ink[j] > floor)) return false;
    owner[j] = from;
    return true;
  }, (i) => { from = owner[i]; });
  return owner;
}

/**
 * The candidate characters of the line through the page's heaviest part, or undefined when the line
 * has one atom only (a single digit: findDigit's reading stands).
 */
export function findLine(page: PageInk, w: number, h: number, work: Workspace = createWorkspace()): LineCandidates | undefined {
  const parts = lineParts(page.parts);
  if (parts.length === 0) return undefined;
  const lineH = Math.max(...parts.map(height));
  const atoms: Atom[] = [];
  for (const p of parts) {
    const cuts = width(p) >= CUT_WIDTH * lineH ? cutColumns(p, page.labels, w, lineH) : [];
    const edges = [{ at: p.x0 - 1, runs: 0 }, ...cuts, { at: p.x1, runs: 0 }];
    for (let k = 0; k + 1 < edges.length; k++) {
      const { box, area } = atomBox(p, page.labels, w, edges[k].at + 1, edges[k + 1].at);
      const lo = k === 0 ? -Infinity : edges[k].at + 1, hi = k + 2 === edges.length ? Infinity : edges[k + 1].at;
      if (area > 0) atoms.push({ label: p.label, lo, hi, leftCut: edges[k].runs, box, area });
    }
  }
  if (atoms.length < 2) return undefined;
  atoms.sort((a, b) => a.box.x0 + a.box.x1 - (b.box.x0 + b.box.x1));
  const biggest = Math.max(...atoms.map((a) => a.area));
  const skippable = atoms.map((a) => height(a.box) < STRAY_HEIGHT * lineH && a.area < 0.25 * biggest);
  const cutStrokes = atoms.map((a, b) => (b > 0 && atoms[b - 1].label === a.label ? a.leftCut : 0));
  cutStrokes.push(0);

  // Soft edges and the stretch, as findDigit does for one digit, over the whole line.
  const { ink, strokes } = page;
  const floor = strokes.t * SOFT_EDGE_FLOOR;
  const lineBox = atoms.map((a) => a.box).reduce(union);
  const margin = Math.max(2, Math.round(SOFT_EDGE_MARGIN * lineH));
  const region = expandBox(lineBox, margin, w, h);
  const owner = growOwners(page, w, h, parts, floor, region, work);
  const strokeHist = new Uint32Array(256);
  let strokePixels = 0;
  for (let y = region.y0; y <= region.y1; y++) for (let x = region.x0; x <= region.x1; x++) {
    const i = y * w + x;
    if (owner[i] && strokes.smooth[i] > strokes.t) { strokeHist[(ink[i] * 255) | 0]++; strokePixels++; }
  }
  const strong = stretchTop(strokeHist, strokePixels, floor);

  const candidates: CharacterCandidate[] = [];
  const crops: LineCandidates['crops'] = [];
  for (let start = 0; start < atoms.length; start++) {
    for (let end = start + 1; end <= Math.min(atoms.length, start + MAX_GROUP); end++) {
      const group = atoms.slice(start, end);
      const outer = group.map((a) => a.box).reduce(union);
      if (end - start > 1 && width(outer) > MAX_CHAR_WIDTH * lineH) break;
      // The group's pixels: its atoms' labels within their columns, halo included (a cut atom's halo
      // is cut at the same columns).
      const gx0 = Math.max(region.x0, outer.x0 - margin), gx1 = Math.min(region.x1, outer.x1 + margin);
      const gy0 = Math.max(region.y0, outer.y0 - margin), gy1 = Math.min(region.y1, outer.y1 + margin);
      const cw = gx1 - gx0 + 1, ch = gy1 - gy0 + 1;
      const crop = new Float32Array(cw * ch);
      const box: Box = { x0: w, y0: h, x1: -1, y1: -1 };
      for (let y = gy0; y <= gy1; y++) for (let x = gx0; x <= gx1; x++) {
        const i = y * w + x;
        const o = owner[i];
        if (!o) continue;
        let mine = false;
        for (const a of group) {
          if (a.label === o && x >= a.lo && x <= a.hi) { mine = true; break; }
        }
        if (!mine) continue;
        const s = (ink[i] - floor) / (strong - floor);
        if (s <= 0) continue;
        crop[(y - gy0) * cw + (x - gx0)] = s >= 1 ? 1 : s;
        if (s < BOX_INK) continue;
        if (x < box.x0) box.x0 = x;
        if (x > box.x1) box.x1 = x;
        if (y < box.y0) box.y0 = y;
        if (y > box.y1) box.y1 = y;
      }
      if (box.x1 < 0) continue;
      // Cropped to the box of what is not the faintest halo, as findDigit's box.
      const bw = box.x1 - box.x0 + 1, bh = box.y1 - box.y0 + 1;
      const tight = new Float32Array(bw * bh);
      for (let y = 0; y < bh; y++) for (let x = 0; x < bw; x++) tight[y * bw + x] = crop[(box.y0 - gy0 + y) * cw + (box.x0 - gx0 + x)];
      candidates.push({ start, end, box });
      crops.push({ ink: tight, w: bw, h: bh });
    }
  }
  return { atoms: atoms.length, skippable, cutStrokes, candidates, crops };
}
