import { createRng } from '../../src/data/rng';
import { HELD_OUT_FAMILIES, isStraight, NON_DIGIT_FAMILIES, renderNonDigit, renderNonDigitUpload, TUNED_FAMILIES } from '../../src/uploads/non-digits';
import { auroc } from '../../src/uploads/evaluate-uploads';

describe('non-digit marks', () => {
  it('splits the families into tuned and held out, with no family in both', () => {
    expect(TUNED_FAMILIES.length).toBeGreaterThanOrEqual(5);
    expect(HELD_OUT_FAMILIES.length).toBeGreaterThanOrEqual(5);
    expect(TUNED_FAMILIES.filter((f) => (HELD_OUT_FAMILIES as readonly string[]).includes(f))).toEqual([]);
  });

  it.each(NON_DIGIT_FAMILIES)('%s: a mark with ink, fitted to 20 px and centred by mass, the same for the same seed', (family) => {
    const a = renderNonDigit(family, createRng(11));
    expect(a).toEqual(renderNonDigit(family, createRng(11)));
    let mass = 0, mx = 0, my = 0, minX = 28, maxX = -1, minY = 28, maxY = -1;
    a.forEach((v, i) => {
      if (!v) return;
      const x = i % 28, y = Math.floor(i / 28);
      mass += v; mx += v * x; my += v * y;
      if (v > 64) { minX = Math.min(minX, x); maxX = Math.max(maxX, x); minY = Math.min(minY, y); maxY = Math.max(maxY, y); }
    });
    expect(mass).toBeGreaterThan(255 * 10);
    expect(Math.abs(mx / mass - 13.5)).toBeLessThanOrEqual(1);
    expect(Math.abs(my / mass - 13.5)).toBeLessThanOrEqual(1);
    expect(Math.max(maxX - minX, maxY - minY)).toBeGreaterThanOrEqual(15);
  });

  it('puts a mark on one of the realistic uploads\' pages, the same one for the same seed', () => {
    // Seed 7, picture 1 of 'shapes' lands on a canvas export (200–400 px): small enough for jest, whose
    // typed-array loops are slow (the photo pages are checked through evaluateUploads and the evaluation).
    const a = renderNonDigitUpload('shapes', 7, 1);
    expect(a.condition).toBe('canvas-rgba');
    expect(a.upload).toMatchObject({ format: 'png', channels: 4 });
    expect(a.upload.data).toEqual(renderNonDigitUpload('shapes', 7, 1).upload.data);
    expect(a.mark.some((v) => v > 200)).toBe(true);
  });

  it('calls a single line straight (any hand\'s 1), and an L or a ring not', () => {
    expect(isStraight([[[0, 0], [1, 10]]])).toBe(true);
    expect(isStraight([[[0, 0], [5, 5]], [[5, 5], [10, 10.2]]])).toBe(true);
    expect(isStraight([[[0, 0], [0, 10], [6, 10]]])).toBe(false);
    expect(isStraight([Array.from({ length: 13 }, (_, k): [number, number] => [Math.cos(k / 2), Math.sin(k / 2)])])).toBe(false);
  });
});

describe('auroc', () => {
  it('is 1 when every digit scores above every non-digit, 0.5 for ties, and counts pairs', () => {
    expect(auroc([0.9, 0.8], [0.1, 0.2])).toBe(1);
    expect(auroc([0.5], [0.5])).toBe(0.5);
    expect(auroc([0.9, 0.3], [0.5])).toBe(0.5);
    expect(auroc([], [0.1])).toBeNaN();
  });
});
