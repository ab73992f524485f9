import { augmentInto, copyInto, AUGMENT_DEFAULTS } from '../../src/data/augment';
import { loadMnist, PIXELS } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';
import { correlation } from '../helpers/images';

describe('augmentation', () => {
  let images: Uint8Array;
  beforeAll(async () => { images = (await loadMnist()).test.images.slice(0, 50 * PIXELS); });

  it('is deterministic for a seed and differs across seeds', () => {
    const run = (seed: number) => {
      const out = new Float32Array(10 * PIXELS);
      const rng = createRng(seed);
      for (let i = 0; i < 10; i++) augmentInto(images, i, out, i, rng);
      return out;
    };
    expect(run(1)).toEqual(run(1));
    expect(run(1)).not.toEqual(run(2));
  });

  it('keeps pixels in [0,1] and the digit recognisable (correlation with the original)', () => {
    const rng = createRng(3);
    const orig = new Float32Array(PIXELS);
    const aug = new Float32Array(PIXELS);
    let sum = 0;
    for (let i = 0; i < 50; i++) {
      copyInto(images, i, orig, 0);
      augmentInto(images, i, aug, 0, rng);
      expect(Math.min(...aug)).toBeGreaterThanOrEqual(0);
      expect(Math.max(...aug)).toBeLessThanOrEqual(1);
      sum += correlation(orig, aug);
    }
    // Shifts of up to 2 px decorrelate thin strokes a good deal; the mean stays clearly positive.
    expect(sum / 50).toBeGreaterThan(0.4);
  });

  it('with every range at zero, returns the image unchanged', () => {
    const out = new Float32Array(PIXELS);
    const orig = new Float32Array(PIXELS);
    augmentInto(images, 7, out, 0, createRng(1), { ...AUGMENT_DEFAULTS, maxShift: 0, maxRotation: 0, maxScale: 0, thicknessProb: 0, elasticProb: 0, corruptProb: 0 });
    copyInto(images, 7, orig, 0);
    for (let i = 0; i < PIXELS; i++) expect(out[i]).toBeCloseTo(orig[i], 5);
  });

  it('with the defaults, moves the image on every one of ten seeds', () => {
    const orig = new Float32Array(PIXELS);
    copyInto(images, 7, orig, 0);
    for (let seed = 1; seed <= 10; seed++) {
      const out = new Float32Array(PIXELS);
      augmentInto(images, 7, out, 0, createRng(seed), AUGMENT_DEFAULTS);
      expect(out.reduce((a, v, i) => a + Math.abs(v - orig[i]), 0)).toBeGreaterThan(1);
    }
  });
});
