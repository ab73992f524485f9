import sharp from 'sharp';
import { CORRUPTION_KINDS, CorruptionKind, corrupt } from '../data/corruptions';
import { copyInto } from '../data/augment';
import { Dataset, IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng } from '../data/rng';
import { isAppError } from '../errors';
import type { Predictor } from '../predictor';
import { forEachLimited } from './evaluate-uploads';

export interface CorruptedOptions {
  seed: number; // of the corruptions; training augments with other seeds
  count: number; // test images per kind, from the first (2,000 × 15 kinds through the server: ~4 min here)
  kinds: readonly CorruptionKind[];
}

export const CORRUPTED_DEFAULTS: Readonly<CorruptedOptions> = Object.freeze({
  seed: 2026,
  count: 2_000,
  kinds: CORRUPTION_KINDS,
});

export interface KindResult {
  kind: CorruptionKind;
  images: number;
  /** The model alone on the corrupted 28×28 floats (argmax, the digit score not asked). */
  modelAccuracy: number;
  /** Through the server's path: the image as a grey PNG, decoded, preprocessed, read; refusals are wrong. */
  serverAccuracy: number;
  refused: number;
}

export interface CorruptedReport {
  seed: number;
  kinds: KindResult[];
  meanModelAccuracy: number;
  meanServerAccuracy: number;
  worstServer: { kind: CorruptionKind; accuracy: number };
}

/** The corrupted copy of test image `i` for `kind`: the same for a seed on every machine. */
export function corruptedImage(test: Dataset, i: number, kind: CorruptionKind, seed: number): Float32Array {
  const img = new Float32Array(PIXELS);
  copyInto(test.images, i, img, 0);
  corrupt(img, kind, createRng((seed * 1_000_003 + CORRUPTION_KINDS.indexOf(kind) * 100_003 + i) >>> 0));
  return img;
}

async function png(img: Float32Array): Promise<Uint8Array> {
  const bytes = Buffer.from(Array.from(img, (v) => Math.round(v * 255)));
  const buf = await sharp(bytes, { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/**
 * Every kind of damage applied to the first `count` MNIST test digits (fixed seed), read by the model
 * alone and through the server's path (`make evaluate-corrupted`).
 */
export async function evaluateCorrupted(predictor: Predictor, test: Dataset, opts: CorruptedOptions,
  onKind: (r: KindResult) => void = () => {}): Promise<CorruptedReport> {
  const count = Math.min(opts.count, test.count);
  const kinds: KindResult[] = [];
  for (const kind of opts.kinds) {
    const images = Array.from({ length: count }, (_, i) => corruptedImage(test, i, kind, opts.seed));
    let modelRight = 0;
    const chunk = 256;
    for (let start = 0; start < count; start += chunk) {
      const preds = await predictor.predictInputs(images.slice(start, start + chunk));
      preds.forEach((p, j) => { if (p.digit === test.labels[start + j]) modelRight++; });
    }
    let serverRight = 0;
    let refused = 0;
    await forEachLimited(count, 64, async (i) => {
      try {
        const res = await predictor.predictBytes(await png(images[i]));
        if (res.prediction.isDigit === false) refused++;
        else if ((res.prediction.number ?? String(res.prediction.digit)) === String(test.labels[i])) serverRight++;
      } catch (err) {
        if (isAppError(err, 'IMAGE_NO_DIGIT')) refused++;
        else throw err;
      }
    });
    const r: KindResult = {
      kind, images: count, modelAccuracy: Number((modelRight / count).toFixed(4)),
      serverAccuracy: Number((serverRight / count).toFixed(4)), refused,
    };
    kinds.push(r);
    onKind(r);
  }
  const mean = (f: (r: KindResult) => number) => Number((kinds.reduce((s, r) => s + f(r), 0) / kinds.length).toFixed(4));
  const worst = kinds.reduce((a, b) => (b.serverAccuracy < a.serverAccuracy ? b : a));
  return {
    seed: opts.seed, kinds, meanModelAccuracy: mean((r) => r.modelAccuracy), meanServerAccuracy: mean((r) => r.serverAccuracy),
    worstServer: { kind: worst.kind, accuracy: worst.serverAccuracy },
  };
}
