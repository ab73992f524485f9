import { IMAGE_SIZE } from '../data/mnist';
import type { Rng } from '../data/rng';
import { drawDigit, expose, Glyph, gradientLight, newPage, Page, paint, paperColour, penColour, RenderedUpload, RGB } from './conditions';

/**
 * Layout families: where the digit sits in the picture, as opposed to the conditions' light, paper and
 * ink on a page that fills the frame. The method is tuned on the first list only; the second is
 * reported once, never tuned on (docs/finding-the-digit.md). The split was written down before any
 * tuning; `printed-text` was added to the tuned list later, to tune against printed text beside a
 * digit without looking at the held-out form fields again.
 */
export const TUNED_LAYOUTS = ['sheet-on-desk', 'tight-crop', 'boxed', 'thick-marker', 'coloured-paper', 'printed-text'] as const;
export const HELD_OUT_LAYOUTS = ['card-on-pattern', 'low-res-scan', 'form-field', 'screen-photo', 'partial-sheet'] as const;
export type LayoutFamily = (typeof TUNED_LAYOUTS)[number] | (typeof HELD_OUT_LAYOUTS)[number];
export const LAYOUT_FAMILIES: readonly LayoutFamily[] = [...TUNED_LAYOUTS, ...HELD_OUT_LAYOUTS];

/** The glyph's inked box on its grid (ink above 0.1), or the whole grid when it is blank. */
function inkBox(glyph: Glyph): { x0: number; y0: number; x1: number; y1: number } {
  let x0 = glyph.cols, y0 = glyph.rows, x1 = -1, y1 = -1;
  for (let y = 0; y < glyph.rows; y++) for (let x = 0; x < glyph.cols; x++) {
    if (glyph.sample(x, y) <= 0.1) continue;
    x0 = Math.min(x0, x); x1 = Math.max(x1, x); y0 = Math.min(y0, y); y1 = Math.max(y1, y);
  }
  return x1 < 0 ? { x0: 0, y0: 0, x1: glyph.cols - 1, y1: glyph.rows - 1 } : { x0, y0, x1: x1 + 1, y1: y1 + 1 };
}

/** A surface with low-frequency mottling around `base` (a desk, a table, a wall). */
function surface(w: number, h: number, base: RGB, rng: Rng, mottle: number): Page {
  const p = newPage(w, h, base);
  const waves = Array.from({ length: 4 }, () => ({ fx: rng.uniform(0.002, 0.02), fy: rng.uniform(0.002, 0.02), ph: rng.uniform(0, 6.28), a: rng.uniform(0.3, 1) }));
  for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
    let m = 0;
    for (const v of waves) m += v.a * Math.sin(v.fx * x + v.fy * y + v.ph);
    const i = (y * w + x) * 3;
    for (let c = 0; c < 3; c++) p.refl[i + c] = Math.max(0, Math.min(255, p.refl[i + c] + (m * mottle) / 2));
  }
  return p;
}

/** Coverage of a rectangle of half-sides (hw, hh) centred at (cx, cy) and turned by `angle`, soft by a pixel. */
function rectCoverage(cx: number, cy: number, hw: number, hh: number, angle: number): (x: number, y: number) => number {
  const c = Math.cos(angle), s = Math.sin(angle);
  return (x, y) => {
    const dx = x - cx, dy = y - cy;
    const u = Math.abs(dx * c + dy * s), v = Math.abs(-dx * s + dy * c);
    return Math.max(0, Math.min(1, hw - u + 0.5)) * Math.max(0, Math.min(1, hh - v + 0.5));
  };
}

/** Paints a turned rectangle (a sheet, a card, a screen) and returns its coverage. */
function sheet(p: Page, colour: RGB, cx: number, cy: number, hw: number, hh: number, angle: number): void {
  const r = Math.hypot(hw, hh) + 1;
  paint(p, colour, cx - r, cy - r, cx + r, cy + r, rectCoverage(cx, cy, hw, hh, angle));
}

/** A rectangle's outline `t` pixels thick (a printed box, a form field). */
function frame(p: Page, colour: RGB, x0: number, y0: number, x1: number, y1: number, t: number): void {
  const band = (d: number) => Math.max(0, Math.min(1, t / 2 + 0.5 - Math.abs(d)));
  paint(p, colour, x0 - t, y0 - t, x1 + t, y1 + t, (x, y) => {
    const inY = y >= y0 - t && y <= y1 + t, inX = x >= x0 - t && x <= x1 + t;
    return Math.max(inY ? Math.max(band(x - x0), band(x - x1)) : 0, inX ? Math.max(band(y - y0), band(y - y1)) : 0);
  });
}

/** The glyph with its strokes thickened by `r` grid pixels (a felt marker): the maximum over a disc. */
function thickened(glyph: Glyph, r: number): Glyph {
  const offsets: [number, number][] = [];
  for (let dy = -Math.ceil(r); dy <= Math.ceil(r); dy += 0.5) for (let dx = -Math.ceil(r); dx <= Math.ceil(r); dx += 0.5) if (Math.hypot(dx, dy) <= r) offsets.push([dx, dy]);
  return { ...glyph, sample: (gx, gy) => { let m = 0; for (const [dx, dy] of offsets) m = Math.max(m, glyph.sample(gx + dx, gy + dy)); return m; } };
}

/** A row of printed "words": blocks of letter-sized dark marks, for labels near a field. */
function printedText(p: Page, rng: Rng, x0: number, y: number, height: number, maxX: number): void {
  let x = x0;
  const ink: RGB = [30, 30, 35];
  while (x < maxX) {
    const letters = 2 + rng.int(6);
    for (let k = 0; k < letters && x < maxX; k++) {
      const lw = height * rng.uniform(0.45, 0.75), tall = rng.next() < 0.3 ? 1.3 : 1;
      const stroke = Math.max(1, height * 0.12);
      const top = y - height * tall;
      // A letter as a few strokes: two stems and a bar, or a bowl's box.
      const kind = rng.int(3);
      paint(p, ink, x, top, x + stroke, y, () => 1);
      if (kind !== 1) paint(p, ink, x + lw - stroke, y - height, x + lw, y, () => 1);
      if (kind !== 2) paint(p, ink, x, y - height, x + lw, y - height + stroke, () => 1);
      if (kind === 1) paint(p, ink, x, y - stroke, x + lw, y, () => 1);
      x += lw + height * 0.25;
    }
    x += height * rng.uniform(0.6, 1);
  }
}

/**
 * Printed text from `x` along `baseline`, up to `maxX`: words of letters built from a type's strokes
 * (stems, bowls, bars, diagonals, dots), with capitals and ascenders.
 */
function typeset(p: Page, rng: Rng, x: number, baseline: number, xHeight: number, maxX: number, ink: RGB): void {
  const weight = Math.max(1, xHeight * rng.uniform(0.1, 0.2));
  const half = weight / 2;
  const stem = (x0: number, top: number, bottom: number) => paint(p, ink, x0 - half, top, x0 + half, bottom, () => 1);
  const bar = (x0: number, x1: number, y: number) => paint(p, ink, x0, y - half, x1, y + half, () => 1);
  const ring = (cx: number, cy: number, rx: number, ry: number) => paint(p, ink, cx - rx - 1, cy - ry - 1, cx + rx + 1, cy + ry + 1, (px, py) => {
    const r = Math.hypot((px - cx) / rx, (py - cy) / ry) * Math.min(rx, ry);
    return Math.max(0, Math.min(1, half + 0.5 - Math.abs(r - Math.min(rx, ry) + half)));
  });
  const diagonal = (x0: number, y0: number, x1: number, y1: number) => {
    const len = Math.hypot(x1 - x0, y1 - y0), ux = (x1 - x0) / len, uy = (y1 - y0) / len;
    paint(p, ink, Math.min(x0, x1) - weight, Math.min(y0, y1) - weight, Math.max(x0, x1) + weight, Math.max(y0, y1) + weight, (px, py) => {
      const t = (px - x0) * ux + (py - y0) * uy;
      if (t < 0 || t > len) return 0;
      return Math.max(0, Math.min(1, half + 0.5 - Math.abs(-(px - x0) * uy + (py - y0) * ux)));
    });
  };
  const capitals = rng.next() < 0.3;
  while (x < maxX) {
    const letters = 1 + rng.int(8);
    for (let k = 0; k < letters; k++) {
      const lw = xHeight * rng.uniform(0.55, 0.95);
      if (x + lw > maxX) return;
      const tall = capitals || (k === 0 && rng.next() < 0.3) ? 1.45 : rng.next() < 0.25 ? 1.45 : 1;
      const top = baseline - xHeight * tall, mid = baseline - xHeight / 2;
      switch (rng.int(7)) {
        case 0: stem(x + half, top, baseline); ring(x + lw / 2 + half, mid, lw / 2 - half, xHeight / 2 - half); break; // b, d
        case 1: ring(x + lw / 2, baseline - (xHeight * tall) / 2, lw / 2, (xHeight * tall) / 2 - half); break; // o, O
        case 2: stem(x + half, top, baseline); stem(x + lw - half, baseline - xHeight, baseline); bar(x, x + lw, baseline - xHeight + half); break; // n, h
        case 3: diagonal(x, top, x + lw / 2, baseline); diagonal(x + lw / 2, baseline, x + lw, top); break; // v, V
        case 4: stem(x + half, top, baseline); bar(x, x + lw, top + half); bar(x, x + lw * 0.8, mid); if (tall > 1) bar(x, x + lw, baseline - half); break; // E, F
        case 5: stem(x + lw / 4, top, baseline); paint(p, ink, x + lw / 4 - weight, top - weight * 2.5, x + lw / 4 + weight, top - weight * 0.5, () => 1); x -= lw / 2; break; // i
        default: ring(x + lw / 2, mid, lw / 2, xHeight / 2 - half); bar(x + lw / 2, x + lw, baseline - xHeight / 2 + half); break; // e, c
      }
      x += lw + xHeight * rng.uniform(0.12, 0.3);
    }
    x += xHeight * rng.uniform(0.5, 0.9);
  }
}

/**
 * Renders `glyph` (one MNIST digit) in a layout family. Every picture is a JPEG photo with sensor noise
 * unless the family is a file made on a computer (a tight crop as PNG half of the time, a low-resolution
 * scan as PNG).
 * @example renderLayout('sheet-on-desk', glyph, createRng(1)) // { width: 1210, height: 980, format: 'jpeg', ... }
 */
export function renderLayout(family: LayoutFamily, glyph: Glyph, rng: Rng): RenderedUpload {
  const quality = Math.round(rng.uniform(70, 92));
  switch (family) {
    case 'sheet-on-desk':
    case 'card-on-pattern': {
      // A sheet or card lying on a darker surface, at any position and angle, not filling the frame.
      const w = Math.round(rng.uniform(800, 1400)), h = Math.round(w * rng.uniform(0.7, 1.35));
      const short = Math.min(w, h);
      const base = rng.uniform(50, 150);
      const tint: RGB = [base * rng.uniform(0.9, 1.3), base * rng.uniform(0.8, 1.1), base * rng.uniform(0.6, 1)];
      const p = surface(w, h, tint, rng, family === 'sheet-on-desk' ? 25 : 0);
      if (family === 'card-on-pattern') {
        // Wood grain, a checked cloth or stripes: texture with edges of its own.
        const kind = rng.int(3), period = rng.uniform(8, 30), angle = rng.uniform(0, Math.PI);
        const c = Math.cos(angle), s = Math.sin(angle);
        const dark: RGB = [tint[0] * 0.6, tint[1] * 0.6, tint[2] * 0.6];
        paint(p, dark, 0, 0, w, h, (x, y) => {
          const u = (x * c + y * s) / period, v = (-x * s + y * c) / period;
          if (kind === 0) return 0.5 + 0.5 * Math.sin(u * 6.28 + 2 * Math.sin(v * 0.7));
          if (kind === 1) return (Math.floor(u) + Math.floor(v)) % 2 === 0 ? 0.8 : 0;
          return Math.sin(u * 6.28) > 0.3 ? 0.7 : 0;
        });
      }
      const hw = short * rng.uniform(0.18, 0.32) * (family === 'card-on-pattern' ? 1.2 : 1);
      const hh = hw * rng.uniform(0.7, 1.4);
      const angle = rng.uniform(-0.45, 0.45);
      // card-on-pattern: up to a fifth of the card may lie outside the frame.
      const out = family === 'card-on-pattern' ? rng.uniform(-0.2, 0.2) : 0;
      const cx = w / 2 + rng.uniform(-0.2, 0.2) * w + out * hw * 2, cy = h / 2 + rng.uniform(-0.2, 0.2) * h;
      sheet(p, paperColour(rng, 225, 250), cx, cy, hw, hh, angle);
      const size = Math.min(hw, hh) * rng.uniform(0.8, 1.2);
      drawDigit(p, glyph, size, cx + rng.uniform(-0.15, 0.15) * hw, cy + rng.uniform(-0.15, 0.15) * hh, penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.3));
      return expose(p, rng, rng.uniform(2, 5), quality);
    }
    case 'partial-sheet': {
      // The edge of a sheet in the frame: a dark desk along one or two sides.
      const w = Math.round(rng.uniform(700, 1300)), h = Math.round(w * rng.uniform(0.7, 1.35));
      const base = rng.uniform(30, 110);
      const p = surface(w, h, [base * 1.2, base, base * 0.8], rng, 20);
      // The sheet runs off the frame on the other sides.
      const desk = rng.uniform(0.15, 0.35) * w, big = w;
      const [x0, x1] = rng.next() < 0.5 ? [desk, w + big] : [-big, w - desk];
      const top = rng.next() < 0.5 ? rng.uniform(0.1, 0.3) * h : -big;
      const y1 = h + big;
      sheet(p, paperColour(rng, 225, 250), (x0 + x1) / 2, (top + y1) / 2, (x1 - x0) / 2, (y1 - top) / 2, rng.uniform(-0.04, 0.04));
      const vx0 = Math.max(0, x0), vx1 = Math.min(w, x1), vy0 = Math.max(0, top);
      const size = Math.min(vx1 - vx0, h - vy0) * rng.uniform(0.3, 0.5);
      drawDigit(p, glyph, size, (vx0 + vx1) / 2 + rng.uniform(-0.1, 0.1) * (vx1 - vx0), (vy0 + h) / 2 + rng.uniform(-0.1, 0.1) * (h - vy0), penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.25));
      return expose(p, rng, rng.uniform(2, 5), quality);
    }
    case 'tight-crop': {
      // The digit cut out tightly: its ink box plus 0–10% per side (strokes may touch the edge), the
      // longer side 40–400 px, dark on white.
      const b = inkBox(glyph);
      const bw = b.x1 - b.x0, bh = b.y1 - b.y0;
      const m = () => rng.uniform(0, 0.1) * Math.max(bw, bh);
      const gx0 = b.x0 - m(), gy0 = b.y0 - m(), gx1 = b.x1 + m(), gy1 = b.y1 + m();
      const long = rng.uniform(40, 400);
      const s = long / Math.max(gx1 - gx0, gy1 - gy0);
      const w = Math.max(8, Math.round((gx1 - gx0) * s)), h = Math.max(8, Math.round((gy1 - gy0) * s));
      const p = newPage(w, h, paperColour(rng, 235, 255));
      const ink = penColour(rng);
      paint(p, ink, 0, 0, w, h, (x, y) => glyph.sample(gx0 + (x + 0.5) / s - 0.5, gy0 + (y + 0.5) / s - 0.5));
      const up = expose(p, rng, rng.uniform(0, 3), quality);
      return rng.next() < 0.5 ? { ...up, format: 'png', quality: 100 } : up;
    }
    case 'low-res-scan': {
      // A digit scanned at 8–14 px and enlarged to 64–128 px, blocky or smooth, dark on white (the
      // public 8×8 sets look like this).
      const n = 8 + rng.int(7);
      const small = new Float32Array(n * n);
      const b = inkBox(glyph);
      const side = Math.max(b.x1 - b.x0, b.y1 - b.y0) * rng.uniform(1.05, 1.25);
      const ox = (b.x0 + b.x1) / 2 - side / 2, oy = (b.y0 + b.y1) / 2 - side / 2;
      for (let y = 0; y < n; y++) for (let x = 0; x < n; x++) {
        let a = 0;
        for (let sy = 0; sy < 4; sy++) for (let sx = 0; sx < 4; sx++) a += glyph.sample(ox + ((x + (sx + 0.5) / 4) * side) / n - 0.5, oy + ((y + (sy + 0.5) / 4) * side) / n - 0.5);
        small[y * n + x] = Math.round((a / 16) * 16) / 16; // 17 grey levels, as those sets store them
      }
      const out = Math.round(rng.uniform(64, 128));
      const blocky = rng.next() < 0.5;
      const at = (x: number, y: number) => small[Math.min(n - 1, Math.max(0, y)) * n + Math.min(n - 1, Math.max(0, x))];
      const p = newPage(out, out, [250, 250, 250]);
      paint(p, [10, 10, 10], 0, 0, out, out, (x, y) => {
        const fx = ((x + 0.5) * n) / out - 0.5, fy = ((y + 0.5) * n) / out - 0.5;
        if (blocky) return at(Math.round(fx), Math.round(fy));
        const x0 = Math.floor(fx), y0 = Math.floor(fy), tx = fx - x0, ty = fy - y0;
        return (at(x0, y0) * (1 - tx) + at(x0 + 1, y0) * tx) * (1 - ty) + (at(x0, y0 + 1) * (1 - tx) + at(x0 + 1, y0 + 1) * tx) * ty;
      });
      return { ...expose(p, rng, 0, 100), format: 'png', quality: 100 };
    }
    case 'boxed':
    case 'form-field': {
      // A digit written inside a printed box (boxed), or in a form field with its printed label
      // beside it (form-field).
      const w = Math.round(rng.uniform(600, 1400)), h = Math.round(w * rng.uniform(0.6, 1.2));
      const p = newPage(w, h, paperColour(rng));
      const size = Math.min(w, h) * rng.uniform(0.25, 0.45);
      const cx = w * rng.uniform(family === 'form-field' ? 0.55 : 0.35, 0.65), cy = h * rng.uniform(0.4, 0.6);
      const mx = size * rng.uniform(0.35, 0.7), my = size * rng.uniform(0.3, 0.6);
      const t = Math.max(1, size * rng.uniform(0.015, 0.04));
      const line: RGB = rng.next() < 0.6 ? [35, 35, 40] : [60, 90, 170];
      const x0 = cx - size / 2 - mx * 0.5, x1 = cx + size / 2 + mx * 0.5, y0 = cy - size / 2 - my * 0.5, y1 = cy + size / 2 + my * 0.5;
      if (family === 'boxed') frame(p, line, x0, y0, x1, y1, t);
      else {
        paint(p, [232, 236, 244], x0, y0, x1, y1, () => 0.8); // the field's tint
        if (rng.next() < 0.5) frame(p, line, x0, y0, x1, y1, t);
        else paint(p, line, x0, y1 - t, x1, y1 + t, () => 1); // an underline only
        printedText(p, rng, w * 0.05, cy + size * 0.1, size * rng.uniform(0.18, 0.3), x0 - size * 0.2);
      }
      drawDigit(p, glyph, size, cx, cy, penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.2));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'printed-text': {
      // A digit written on a printed page: a heading above it, a label before or after it on its line,
      // lines of text below, sometimes a logo in a corner. The text never touches the digit.
      const w = Math.round(rng.uniform(700, 1400)), h = Math.round(w * rng.uniform(0.7, 1.3));
      const p = newPage(w, h, paperColour(rng));
      const size = Math.min(w, h) * rng.uniform(0.2, 0.35);
      const cx = w * rng.uniform(0.3, 0.7), cy = h * rng.uniform(0.35, 0.65);
      const digitTop = cy - size * 0.55, digitBottom = cy + size * 0.55, digitLeft = cx - size * 0.55, digitRight = cx + size * 0.55;
      const ink: RGB = rng.next() < 0.75 ? [25, 25, 30] : rng.next() < 0.5 ? [40, 60, 140] : [130, 30, 35];
      const xHeight = () => size * rng.uniform(0.08, 0.22);
      const gap = () => size * rng.uniform(0.15, 0.6);
      const margin = w * rng.uniform(0.04, 0.1);
      if (rng.next() < 0.7) { // a heading above
        const xh = xHeight() * 1.4;
        typeset(p, rng, margin, digitTop - gap(), xh, w - margin, ink);
      }
      if (rng.next() < 0.75) { // a label on the digit's line
        const xh = xHeight(), baseline = cy + rng.uniform(-0.1, 0.36) * size;
        if (rng.next() < 0.6) typeset(p, rng, margin * rng.uniform(0.5, 2), baseline, xh, digitLeft - gap(), ink);
        else typeset(p, rng, digitRight + gap(), baseline, xh, w - margin, ink);
      }
      if (rng.next() < 0.6) { // a paragraph below
        const xh = xHeight();
        for (let line = 0, y = digitBottom + gap() + xh * 1.45; line < 1 + rng.int(4) && y < h - margin; line++, y += xh * rng.uniform(2.2, 3)) {
          typeset(p, rng, margin, y, xh, w - margin * rng.uniform(1, 4), ink);
        }
      }
      if (rng.next() < 0.3) { // a logo: a filled disc or square with a light letter in it
        const r = size * rng.uniform(0.15, 0.3), lx = rng.next() < 0.5 ? margin + r : w - margin - r, ly = margin + r;
        if (Math.abs(lx - cx) > r + size * 0.6 || Math.abs(ly - cy) > r + size * 0.6) {
          const round = rng.next() < 0.5;
          paint(p, ink, lx - r - 1, ly - r - 1, lx + r + 1, ly + r + 1, (px, py) => (round ? Math.max(0, Math.min(1, r + 0.5 - Math.hypot(px - lx, py - ly))) : 1));
          typeset(p, rng, lx - r * 0.45, ly + r * 0.35, r * 0.7, lx + r * 0.45, [245, 245, 245]);
        }
      }
      drawDigit(p, glyph, size, cx, cy, penColour(rng));
      gradientLight(p, rng, rng.uniform(0, 0.25));
      return expose(p, rng, rng.uniform(2, 5), quality);
    }
    case 'thick-marker': {
      // A felt marker, the digit filling most of a small picture.
      const g = thickened(glyph, rng.uniform(0.8, 1.8));
      const w = Math.round(rng.uniform(250, 700)), h = Math.round(w * rng.uniform(0.8, 1.25));
      const p = newPage(w, h, paperColour(rng));
      const b = inkBox(g);
      const fill = Math.min(w, h) * rng.uniform(0.7, 0.92);
      const size = (fill * 20) / Math.max(b.x1 - b.x0, b.y1 - b.y0);
      const marker: RGB = rng.next() < 0.6 ? [20, 20, 25] : rng.next() < 0.5 ? [30, 40, 150] : [150, 25, 30];
      drawDigit(p, g, size, w / 2 + ((IMAGE_SIZE / 2 - (b.x0 + b.x1) / 2) * size) / 20, h / 2 + ((IMAGE_SIZE / 2 - (b.y0 + b.y1) / 2) * size) / 20, marker);
      gradientLight(p, rng, rng.uniform(0, 0.2));
      return expose(p, rng, rng.uniform(2, 4), quality);
    }
    case 'coloured-paper': {
      // Sticky notes and coloured paper filling the frame.
      const papers: RGB[] = [[250, 236, 120], [250, 190, 210], [180, 215, 245], [190, 235, 180], [250, 200, 140]];
      const paper = papers[rng.int(papers.length)].map((v) => v * rng.uniform(0.9, 1)) as RGB;
      const w = Math.round(rng.uniform(600, 1400)), h = Math.round(w * rng.uniform(0.7, 1.35));
      const p = newPage(w, h, paper);
      const size = Math.min(w, h) * rng.uniform(0.3, 0.6);
      drawDigit(p, glyph, size, w / 2 + rng.uniform(-0.12, 0.12) * w, h / 2 + rng.uniform(-0.12, 0.12) * h, rng.next() < 0.5 ? penColour(rng) : [30, 50, 140]);
      gradientLight(p, rng, rng.uniform(0, 0.3));
      return expose(p, rng, rng.uniform(2, 5), quality);
    }
    case 'screen-photo': {
      // A photo of a screen showing a digit: a drawing app, dark or light, in a bezel, in a room, with
      // the moiré of the pixel grid.
      const w = Math.round(rng.uniform(800, 1400)), h = Math.round(w * rng.uniform(0.65, 1));
      const room = rng.uniform(90, 170);
      const p = surface(w, h, [room, room * 0.95, room * 0.9], rng, 15);
      const hw = w * rng.uniform(0.3, 0.42), hh = h * rng.uniform(0.3, 0.42);
      const cx = w / 2 + rng.uniform(-0.06, 0.06) * w, cy = h / 2 + rng.uniform(-0.06, 0.06) * h;
      const angle = rng.uniform(-0.06, 0.06);
      sheet(p, [12, 12, 14], cx, cy, hw * 1.08, hh * 1.1, angle); // the bezel
      const dark = rng.next() < 0.5;
      const screen = dark ? rng.uniform(20, 45) : rng.uniform(215, 245);
      sheet(p, [screen, screen, screen * 1.03], cx, cy, hw, hh, angle);
      const ink = dark ? rng.uniform(210, 250) : rng.uniform(10, 40);
      drawDigit(p, glyph, Math.min(hw, hh) * rng.uniform(0.9, 1.4), cx, cy, [ink, ink, ink]);
      const period = rng.uniform(3, 7), amp = rng.uniform(0.04, 0.1), ma = rng.uniform(0, Math.PI);
      const inScreen = rectCoverage(cx, cy, hw, hh, angle);
      for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) {
        if (inScreen(x, y) <= 0) continue;
        p.light[y * w + x] *= 1 + amp * Math.sin(((x * Math.cos(ma) + y * Math.sin(ma)) / period) * 6.28);
      }
      return expose(p, rng, rng.uniform(3, 7), quality);
    }
  }
}
