import sharp from 'sharp';
import { Dataset, IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng } from '../data/rng';
import { isAppError } from '../errors';
import type { Predictor } from '../predictor';
import { EMPTY_CONDITIONS, renderUpload, RenderedUpload, UPLOAD_CONDITIONS, uploadSeed } from './conditions';

export interface UploadsOptions {
  seed: number; // one seed for tuning, another held out for the reported figures
  perCondition: number; // images per digit condition
  perEmptyCondition: number; // images per no-digit condition
  concurrency: number; // uploads in flight at once
  examples: number; // uploads per condition kept for the picture of inputs and model inputs
  only?: string[]; // run just these conditions (digit or no-digit ones); all when absent
}

export const UPLOADS_DEFAULTS: Readonly<UploadsOptions> = Object.freeze({
  seed: 2, // the held-out seed; tuning used seed 1
  perCondition: 200,
  perEmptyCondition: 40,
  concurrency: 4,
  examples: 2,
});

export interface ConditionResult {
  condition: string;
  images: number;
  right: number;
  wrong: number;
  noDigit: number; // answered IMAGE_NO_DIGIT
  errors: Record<string, number>; // other error codes
  accuracy: number; // right / images (for empty conditions: noDigit / images)
  meanMs: number; // decode + preprocess + inference, one upload at a time in flight per slot
}

export interface UploadExample { condition: string; index: number; label: number | null; answer: string; right: boolean; bytes: Uint8Array; input28?: Float32Array }

export interface UploadsReport {
  seed: number;
  conditions: ConditionResult[];
  empty: ConditionResult[];
  overall: { images: number; right: number; accuracy: number; worstCondition: string; worstAccuracy: number };
  emptyRefused: { images: number; refused: number };
}

export interface MnistPngsResult { images: number; right: number; accuracy: number; noDigit: number; errors: number; passthrough: number }

/**
 * The 10,000 MNIST test digits as 28×28 grey PNGs through the server's path (our PNG decoder,
 * preprocessing, batching, the model): they must keep the model's offline accuracy.
 */
export async function evaluateMnistPngs(predictor: Predictor, test: Dataset, concurrency = 64): Promise<MnistPngsResult> {
  const r: MnistPngsResult = { images: test.count, right: 0, accuracy: 0, noDigit: 0, errors: 0, passthrough: 0 };
  await forEachLimited(test.count, concurrency, async (i) => {
    const png = await sharp(test.images.subarray(i * PIXELS, (i + 1) * PIXELS), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).png().toBuffer();
    try {
      const res = await predictor.predictBytes(new Uint8Array(png));
      if (res.prediction.digit === test.labels[i]) r.right++;
      if (res.info.path === 'passthrough') r.passthrough++;
    } catch (err) {
      if (isAppError(err, 'IMAGE_NO_DIGIT')) r.noDigit++;
      else r.errors++;
    }
  });
  r.accuracy = Number((r.right / r.images).toFixed(4));
  return r;
}

/** Encodes a rendered upload as the file a user would send (JPEG for photos, PNG for canvas exports). */
export async function encodeUpload(r: RenderedUpload): Promise<Uint8Array> {
  const img = sharp(r.data, { raw: { width: r.width, height: r.height, channels: r.channels } });
  const buf = r.format === 'jpeg' ? await img.jpeg({ quality: r.quality }).toBuffer() : await img.png().toBuffer();
  return new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
}

/** Runs `f` over 0..n-1 with at most `limit` calls in flight. */
async function forEachLimited(n: number, limit: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await f(next++);
  }));
}

/**
 * Renders every condition's uploads from MNIST test digits with `seed`, sends each through `predictor`
 * (the server's decode, preprocessing and model) and counts right answers, IMAGE_NO_DIGIT and errors.
 */
export async function evaluateUploads(predictor: Predictor, test: Dataset, opts: UploadsOptions,
  onExample: (e: UploadExample) => void = () => {}): Promise<UploadsReport> {
  const run = async (condition: (typeof UPLOAD_CONDITIONS)[number] | (typeof EMPTY_CONDITIONS)[number], n: number, hasDigit: boolean): Promise<ConditionResult> => {
    const r: ConditionResult = { condition, images: n, right: 0, wrong: 0, noDigit: 0, errors: {}, accuracy: 0, meanMs: 0 };
    let ms = 0;
    await forEachLimited(n, opts.concurrency, async (i) => {
      const rng = createRng(uploadSeed(opts.seed, condition, i));
      const index = rng.int(test.count);
      const label = hasDigit ? test.labels[index] : null;
      const bytes = await encodeUpload(renderUpload(condition, test.images, index, rng));
      const t0 = performance.now();
      let answer: string;
      let input28: Float32Array | undefined;
      try {
        const res = await predictor.predictBytes(bytes);
        ms += performance.now() - t0;
        input28 = res.input28;
        answer = String(res.prediction.digit);
        if (res.prediction.digit === label) r.right++;
        else r.wrong++;
      } catch (err) {
        ms += performance.now() - t0;
        const code = isAppError(err) ? err.code : 'UNEXPECTED';
        answer = code;
        if (code === 'IMAGE_NO_DIGIT') r.noDigit++;
        else r.errors[code] = (r.errors[code] ?? 0) + 1;
      }
      const right = hasDigit ? answer === String(label) : answer === 'IMAGE_NO_DIGIT';
      if (i < opts.examples || !right) onExample({ condition, index: i, label, answer, right, bytes, input28 });
    });
    r.accuracy = (hasDigit ? r.right : r.noDigit) / n;
    r.meanMs = Number((ms / n).toFixed(1));
    r.accuracy = Number(r.accuracy.toFixed(4));
    return r;
  };
  const conditions: ConditionResult[] = [];
  const wanted = (c: string) => !opts.only || opts.only.includes(c);
  for (const c of UPLOAD_CONDITIONS.filter(wanted)) conditions.push(await run(c, opts.perCondition, true));
  const empty: ConditionResult[] = [];
  for (const c of EMPTY_CONDITIONS.filter(wanted)) empty.push(await run(c, opts.perEmptyCondition, false));
  const images = conditions.reduce((s, c) => s + c.images, 0);
  const right = conditions.reduce((s, c) => s + c.right, 0);
  const worst = conditions.reduce<ConditionResult | undefined>((a, b) => (!a || b.accuracy < a.accuracy ? b : a), undefined);
  return {
    seed: opts.seed, conditions, empty,
    overall: { images, right, accuracy: Number((images ? right / images : 0).toFixed(4)), worstCondition: worst?.condition ?? '', worstAccuracy: worst?.accuracy ?? 0 },
    emptyRefused: { images: empty.reduce((s, c) => s + c.images, 0), refused: empty.reduce((s, c) => s + c.noDigit, 0) },
  };
}
