import { createPreprocessor } from '../../src/image/preprocess';
import type { Bitmap } from '../../src/image/bitmap';

/** A white page w × h with dark rectangles [x, y, width, height] (pen strokes drawn as blocks). */
function page(w: number, h: number, rects: Array<[number, number, number, number]>): Bitmap {
  const data = new Uint8Array(w * h * 4).fill(255);
  for (const [rx, ry, rw, rh] of rects) {
    for (let y = ry; y < ry + rh; y++) for (let x = rx; x < rx + rw; x++) data.set([20, 20, 20], (y * w + x) * 4);
  }
  return { width: w, height: h, data };
}

const preprocessor = createPreprocessor();

describe('the candidate characters of a line (find-number)', () => {
  it('makes an atom of each stroke part, left to right, with every run of neighbours as a candidate', () => {
    const r = preprocessor.run(page(240, 100, [[180, 20, 6, 60], [40, 20, 6, 60], [110, 22, 6, 58]]));
    const line = r.line!;
    expect(line.atoms).toBe(3);
    expect(line.cutStrokes).toEqual([0, 0, 0, 0]);
    const singles = line.candidates.filter((c) => c.end - c.start === 1);
    expect(singles.map((c) => c.start)).toEqual([0, 1, 2]);
    expect(singles.map((c) => Math.round(c.box.x + c.box.width / 2))).toEqual([43, 113, 183].map((x) => expect.closeTo(x, -1)));
    // Pairs too (each no wider than a digit may be); every candidate has its own 28×28 input.
    expect(line.candidates.some((c) => c.start === 0 && c.end === 2)).toBe(true);
    expect(line.inputs).toHaveLength(line.candidates.length * 784);
    for (let k = 0; k < line.candidates.length; k++) expect(line.inputs.subarray(k * 784, (k + 1) * 784).some((v) => v > 0.5)).toBe(true);
  });

  it('gives boxes in the picture\'s own pixels when the decoder shrank it', () => {
    const r = preprocessor.run(page(240, 100, [[40, 20, 6, 60], [110, 20, 6, 60]]), 480);
    const first = r.line!.candidates.find((c) => c.start === 0 && c.end === 1)!;
    expect(first.box.x).toBeGreaterThan(70);
    expect(first.box.x).toBeLessThan(90);
    expect(first.box.height).toBeGreaterThan(110);
  });

  it('cuts a part as wide as two digits where it is one stroke thick', () => {
    // Two uprights joined by a thin bar at their feet: one part, 46 wide and 60 high.
    const r = preprocessor.run(page(200, 100, [[60, 20, 6, 60], [100, 20, 6, 60], [60, 76, 46, 4]]));
    const line = r.line!;
    expect(line.atoms).toBeGreaterThanOrEqual(2);
    expect(line.cutStrokes.slice(1, -1).every((s) => s === 1)).toBe(true);
    expect(line.candidates.some((c) => c.start === 0 && c.end === line.atoms)).toBe(true); // and the whole, uncut
  });

  it('has no line for one stroke part: the single-digit reading stands', () => {
    const r = preprocessor.run(page(200, 100, [[90, 20, 6, 60]]));
    expect(r.info.empty).toBe(false);
    expect(r.line).toBeUndefined();
    expect(r.box!.height).toBeGreaterThan(50);
  });

  it('leaves out of the line a mark far above or below it, and keeps a small one on it as skippable', () => {
    const r = preprocessor.run(page(300, 200, [[60, 80, 6, 60], [140, 80, 6, 60], [100, 10, 30, 6], [100, 120, 8, 8]]));
    const line = r.line!;
    expect(line.atoms).toBe(3); // the two uprights and the dot between them; not the dash far above
    expect(line.skippable).toEqual([false, true, false]);
  });
});
