import { createHash } from 'node:crypto';
import { Dataset, IMAGE_SIZE, loadMnist } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';
import { digitSampler, uploadSeed } from '../../src/uploads/conditions';
import { HELD_OUT_LAYOUTS, LAYOUT_FAMILIES, LayoutFamily, renderLayout, TUNED_LAYOUTS } from '../../src/uploads/layouts';

let test: Dataset;
beforeAll(async () => { test = (await loadMnist()).test; });

const render = (family: LayoutFamily, i: number) => {
  const rng = createRng(uploadSeed(5, family, i));
  return renderLayout(family, { sample: digitSampler(test.images, i), cols: IMAGE_SIZE, rows: IMAGE_SIZE }, rng);
};

/** Mean grey of the RGB(A) pixels inside the box, and the darkest pixel in it. */
function grey(up: ReturnType<typeof render>, x0: number, y0: number, x1: number, y1: number): { mean: number; min: number } {
  let sum = 0, n = 0, min = 255;
  for (let y = Math.floor(y0); y < Math.floor(y1); y++) for (let x = Math.floor(x0); x < Math.floor(x1); x++) {
    const i = (y * up.width + x) * up.channels;
    const g = (up.data[i] + up.data[i + 1] + up.data[i + 2]) / 3;
    sum += g; n++; min = Math.min(min, g);
  }
  return { mean: sum / n, min };
}

describe('layout families', () => {
  it('are split into tuned and held-out families that do not overlap', () => {
    expect(TUNED_LAYOUTS.length).toBeGreaterThanOrEqual(5);
    expect(HELD_OUT_LAYOUTS.length).toBeGreaterThanOrEqual(5);
    expect(TUNED_LAYOUTS.filter((f) => (HELD_OUT_LAYOUTS as readonly string[]).includes(f))).toEqual([]);
    expect(LAYOUT_FAMILIES).toHaveLength(TUNED_LAYOUTS.length + HELD_OUT_LAYOUTS.length);
  });

  it.each(LAYOUT_FAMILIES)('%s renders the same picture for the same seed, with ink on it', (family) => {
    const a = render(family, 0);
    const hash = (x: Uint8Array) => createHash('sha256').update(x).digest('hex');
    expect(hash(render(family, 0).data)).toBe(hash(a.data));
    expect(a.data).toHaveLength(a.width * a.height * a.channels);
    expect(Math.min(a.width, a.height)).toBeGreaterThanOrEqual(40);
    // Every family shows a digit: the picture holds both a light and a dark side (paper and ink, or a
    // dark screen and light strokes).
    const whole = grey(a, 0, 0, a.width, a.height);
    expect(whole.min).toBeLessThan(whole.mean - 60);
  });

  it('cuts a tight crop to the digit: ink reaches the edges of the picture', () => {
    // Digit 1 of the test set (a 2) spans its box; a crop of 0–10% margin leaves ink near every side.
    const up = render('tight-crop', 1);
    const band = Math.max(2, Math.round(0.12 * Math.max(up.width, up.height)));
    const sides = [grey(up, 0, 0, band, up.height), grey(up, up.width - band, 0, up.width, up.height), grey(up, 0, 0, up.width, band), grey(up, 0, up.height - band, up.width, up.height)];
    expect(sides.every((s) => s.min < 150)).toBe(true);
  });

  it('lays a sheet on a darker desk, not filling the frame: the corners are desk', () => {
    for (let i = 0; i < 3; i++) {
      const up = render('sheet-on-desk', i);
      const corner = grey(up, 0, 0, 10, 10).mean;
      const centre = grey(up, up.width / 2 - 5, up.height / 2 - 5, up.width / 2 + 5, up.height / 2 + 5);
      expect(corner).toBeLessThan(190);
      expect(Math.max(centre.mean, grey(up, up.width * 0.3, up.height * 0.3, up.width * 0.7, up.height * 0.7).mean)).toBeGreaterThan(corner);
    }
  });
});
