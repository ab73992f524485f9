import { createRng } from '../../src/data/rng';
import { numberClearances, renderNumberUpload, writeNumber } from '../../src/uploads/numbers';
import { editDistance, digitsRight } from '../../src/metrics/classification';

/** Two fake "digits": a vertical bar (label 1) and a filled block (label 8), 28×28, 0 = background. */
function fakeDigits(): { images: Uint8Array; labels: Uint8Array } {
  const images = new Uint8Array(2 * 784);
  for (let y = 4; y < 24; y++) for (let x = 12; x < 16; x++) images[y * 28 + x] = 255;
  for (let y = 4; y < 24; y++) for (let x = 6; x < 22; x++) images[784 + y * 28 + x] = 255;
  return { images, labels: Uint8Array.of(1, 8) };
}

/** Columns of the strip with ink, as runs [first, last]. */
function inkRuns(glyph: ReturnType<typeof writeNumber>['glyph']): Array<[number, number]> {
  const runs: Array<[number, number]> = [];
  let start = -1;
  for (let x = 0; x <= glyph.cols; x++) {
    let ink = false;
    for (let y = 0; y < glyph.rows && x < glyph.cols; y++) if (glyph.sample(x, y) > 0.3) { ink = true; break; }
    if (ink && start < 0) start = x;
    if (!ink && start >= 0) { runs.push([start, x - 1]); start = -1; }
  }
  return runs;
}

describe('numbers written from MNIST digits', () => {
  it('puts the strokes of neighbours the clearance apart, or into each other when it is negative', () => {
    const { images, labels } = fakeDigits();
    const apart = writeNumber(images, labels, [0, 1, 0], [6, 6], createRng(1));
    expect(apart.label).toBe('181');
    const runs = inkRuns(apart.glyph);
    expect(runs).toHaveLength(3);
    for (let k = 1; k < runs.length; k++) expect(runs[k][0] - runs[k - 1][1] - 1).toBeGreaterThanOrEqual(4);
    const touching = writeNumber(images, labels, [1, 1], [-1], createRng(1));
    expect(inkRuns(touching.glyph)).toHaveLength(1);
  });

  it('gives touching numbers at least one joint below zero, and numbers with gaps none', () => {
    for (let seed = 0; seed < 20; seed++) {
      expect(numberClearances('gaps', 5, createRng(seed)).every((c) => c > 0)).toBe(true);
      expect(numberClearances('touching', 5, createRng(seed)).some((c) => c < 0)).toBe(true);
    }
  });

  it('renders the same upload from the same seed, with a label of the asked length', () => {
    const { images, labels } = fakeDigits();
    const a = renderNumberUpload(images, labels, 'gaps', 3, 5, [2, 3]);
    const b = renderNumberUpload(images, labels, 'gaps', 3, 5, [2, 3]);
    expect(a.label).toMatch(/^[18]{2,3}$/);
    expect(b.label).toBe(a.label);
    expect(b.condition).toBe(a.condition);
    expect(Buffer.from(b.upload.data).equals(Buffer.from(a.upload.data))).toBe(true);
    expect(renderNumberUpload(images, labels, 'gaps', 4, 5, [2, 3]).upload.data).not.toEqual(a.upload.data);
  });

  it('counts digits read by edits from the reading to the label', () => {
    expect(editDistance('2026', '2026')).toBe(0);
    expect(editDistance('206', '2026')).toBe(1);
    expect(editDistance('', '12')).toBe(2);
    expect(digitsRight('2026', '2026')).toBe(4);
    expect(digitsRight('20026', '2026')).toBe(3);
    expect(digitsRight('99999', '12')).toBe(0);
  });
});
