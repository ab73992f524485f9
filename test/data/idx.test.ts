import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeIdxImages, encodeIdxLabels, IDX_IMAGES_MAGIC, parseIdxImages, parseIdxLabels } from '../../src/data/idx';
import { packageDataDir } from '../../src/data/sources';
import { AppError } from '../../src/errors';

const images = { count: 2, rows: 28, cols: 28, pixels: Uint8Array.from({ length: 2 * 784 }, (_, i) => i % 256) };

describe('IDX reader', () => {
  it('round-trips images and labels', () => {
    const parsed = parseIdxImages(encodeIdxImages(images));
    expect(parsed).toMatchObject({ count: 2, rows: 28, cols: 28 });
    expect(Array.from(parsed.pixels.subarray(0, 5))).toEqual([0, 1, 2, 3, 4]);
    expect(Array.from(parseIdxLabels(encodeIdxLabels(Uint8Array.from([5, 0, 4]))))).toEqual([5, 0, 4]);
  });

  it('reads the real MNIST training labels (first four are 5 0 4 1)', () => {
    const bytes = readFileSync(join(packageDataDir()!, 'train-labels-idx1-ubyte'));
    const labels = parseIdxLabels(new Uint8Array(bytes));
    expect(labels.length).toBe(60000);
    expect(Array.from(labels.subarray(0, 4))).toEqual([5, 0, 4, 1]);
  });

  it('rejects a truncated file with DATA_TRUNCATED', () => {
    const bytes = encodeIdxImages(images).subarray(0, 16 + 784 + 10);
    expect(() => parseIdxImages(bytes, 'cut')).toThrow(AppError);
    expect(() => parseIdxImages(bytes, 'cut')).toThrow(/'cut' is 810 bytes, its header promises 1584/);
    expect(() => parseIdxImages(bytes)).toThrow(expect.objectContaining({ code: 'DATA_TRUNCATED' }));
    expect(() => parseIdxLabels(new Uint8Array(3))).toThrow(/shorter than its header/);
  });

  it('rejects a wrong magic number with DATA_BAD_MAGIC', () => {
    const labelsAsImages = encodeIdxLabels(Uint8Array.from([1, 2]));
    expect(() => parseIdxImages(labelsAsImages, 'labels.idx')).toThrow(expect.objectContaining({ code: 'DATA_BAD_MAGIC' }));
    expect(() => parseIdxLabels(encodeIdxImages(images))).toThrow(new RegExp(`magic ${IDX_IMAGES_MAGIC}, expected 2049`));
  });

  it('rejects trailing bytes and labels outside 0-9', () => {
    const extra = new Uint8Array([...encodeIdxLabels(Uint8Array.from([1])), 7]);
    expect(() => parseIdxLabels(extra)).toThrow(expect.objectContaining({ code: 'DATA_SHAPE_MISMATCH' }));
    expect(() => parseIdxLabels(encodeIdxLabels(Uint8Array.from([1, 12])))).toThrow(/label 12 at index 1/);
  });
});
