import { copyInto } from '../../src/data/augment';
import { CORRUPTION_KINDS, corrupt } from '../../src/data/corruptions';
import { loadMnist, PIXELS } from '../../src/data/mnist';
import { createRng } from '../../src/data/rng';

describe('corruptions', () => {
  let images: Uint8Array;
  beforeAll(async () => { images = (await loadMnist()).test.images.slice(0, 8 * PIXELS); });

  const damaged = (kind: (typeof CORRUPTION_KINDS)[number], index: number, seed: number) => {
    const img = new Float32Array(PIXELS);
    copyInto(images, index, img, 0);
    corrupt(img, kind, createRng(seed));
    return img;
  };

  it.each(CORRUPTION_KINDS)('%s changes the picture, stays in [0, 1] and is the same for a seed', (kind) => {
    for (let i = 0; i < 8; i++) {
      const orig = new Float32Array(PIXELS);
      copyInto(images, i, orig, 0);
      const a = damaged(kind, i, 100 + i);
      expect(a).toEqual(damaged(kind, i, 100 + i));
      expect(a.some((v, j) => Math.abs(v - orig[j]) > 0.05)).toBe(true);
      for (const v of a) expect(v >= 0 && v <= 1).toBe(true);
    }
  });

  it('outline keeps only pixels just outside the strokes', () => {
    const orig = new Float32Array(PIXELS);
    copyInto(images, 0, orig, 0);
    const edge = damaged('outline', 0, 1);
    for (let j = 0; j < PIXELS; j++) {
      expect(edge[j] === 0 || edge[j] === 1).toBe(true);
      if (orig[j] > 0.4) expect(edge[j]).toBe(0);
    }
    expect(edge.filter((v) => v === 1).length).toBeGreaterThan(20);
  });

  it('stripe inverts whole bands: each pixel is either unchanged or flipped', () => {
    const orig = new Float32Array(PIXELS);
    copyInto(images, 3, orig, 0);
    const s = damaged('stripe', 3, 5);
    let flipped = 0;
    for (let j = 0; j < PIXELS; j++) {
      const same = Math.abs(s[j] - orig[j]) < 1e-6;
      const inverted = Math.abs(s[j] - (1 - orig[j])) < 1e-6;
      expect(same || inverted).toBe(true);
      if (!same) flipped++;
    }
    expect(flipped).toBeGreaterThanOrEqual(28);
  });
});
