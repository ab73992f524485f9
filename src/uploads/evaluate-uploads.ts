import sharp from 'sharp';
import { Dataset, IMAGE_SIZE, PIXELS } from '../data/mnist';
import { createRng } from '../data/rng';
import { isAppError } from '../errors';
import { createEceAccumulator } from '../metrics/classification';
import type { Predictor } from '../predictor';
import { digitSampler, EMPTY_CONDITIONS, renderUpload, RenderedUpload, UPLOAD_CONDITIONS, uploadSeed } from './conditions';
import { HELD_OUT_LAYOUTS, LAYOUT_FAMILIES, LayoutFamily, renderLayout } from './layouts';
import { HELD_OUT_FAMILIES, NON_DIGIT_FAMILIES, NonDigitFamily, renderNonDigitUpload } from './non-digits';

export interface UploadsOptions {
  seed: number; // one seed for tuning, another held out for the reported figures
  perCondition: number; // images per digit condition
  perEmptyCondition: number; // images per no-digit condition
  perNonDigitFamily: number; // non-digit marks per family
  perLayout: number; // digits per layout family
  concurrency: number; // uploads in flight at once
  examples: number; // uploads per condition kept for the picture of inputs and model inputs
  only?: string[]; // run just these conditions (digit or no-digit ones); all when absent
}

export const UPLOADS_DEFAULTS: Readonly<UploadsOptions> = Object.freeze({
  seed: 2, // the held-out seed; tuning used seed 1
  perCondition: 200,
  perEmptyCondition: 40,
  perNonDigitFamily: 100,
  perLayout: 100,
  concurrency: 4,
  examples: 2,
});

export interface ConditionResult {
  condition: string;
  images: number;
  right: number;
  wrong: number;
  noDigit: number; // answered IMAGE_NO_DIGIT: nothing stood out, or the mark is not a digit
  notDigit: number; // of those, the marks the digit score refused
  errors: Record<string, number>; // other error codes
  accuracy: number; // right / images (for empty conditions: noDigit / images)
  meanMs: number; // decode + preprocess + inference, one upload at a time in flight per slot
}

export interface UploadExample { condition: string; index: number; label: number | null; answer: string; right: boolean; bytes: Uint8Array; input28?: Float32Array }

/** The non-digit marks of one family: how many were refused, by either test. */
export interface NonDigitResult { family: string; heldOut: boolean; images: number; refused: number; noDigit: number; notDigit: number; answered: Record<string, number>; accuracy: number }

/** Digit scores of every answered upload, for the trade-off between digits kept and marks refused. */
export interface ScoreSample { digits: number[]; tuned: number[]; heldOut: number[] }

/** A layout family's result; `heldOut` families were never tuned on. */
export interface LayoutResult extends ConditionResult { heldOut: boolean }

export interface UploadsReport {
  seed: number;
  conditions: ConditionResult[];
  layouts: LayoutResult[];
  /** Right shares over the tuned and the held-out layout families, and each group's worst family. */
  layoutSummary: { tuned: number; heldOut: number; worstTuned: number; worstHeldOut: number };
  empty: ConditionResult[];
  nonDigits: NonDigitResult[];
  /** `ece`: of the answers' probability over the conditions' digits that were answered (15 bins, as the model's). */
  overall: { images: number; right: number; accuracy: number; ece: number; worstCondition: string; worstAccuracy: number };
  emptyRefused: { images: number; refused: number };
  /** Refused shares over the tuned and the held-out families, and the digit score's AUROC against digit uploads. */
  nonDigitRefused: { tuned: number; heldOut: number; aurocTuned: number; aurocHeldOut: number };
  scores: ScoreSample;
}

/** The predictor's verdict on one picture, with a mark the digit score does not take counted as refused. */
type Verdict = { kind: 'digit'; digit: number; number: string; probability: number; score: number; input28: Float32Array } | { kind: 'refused'; code: string; notDigit: boolean; score: number; input28?: Float32Array };

/** Asks with notDigit 'flag' (the evaluation's predictor), so the score of a refused mark is known too. */
async function verdict(predictor: Predictor, bytes: Uint8Array): Promise<Verdict> {
  try {
    const res = await predictor.predictBytes(bytes);
    const score = res.prediction.digitScore ?? NaN;
    if (res.prediction.isDigit === false) return { kind: 'refused', code: 'IMAGE_NO_DIGIT', notDigit: true, score, input28: res.input28 };
    return { kind: 'digit', digit: res.prediction.digit, number: res.prediction.number ?? String(res.prediction.digit), probability: res.prediction.probability, score, input28: res.input28 };
  } catch (err) {
    return { kind: 'refused', code: isAppError(err) ? err.code : 'UNEXPECTED', notDigit: false, score: NaN };
  }
}

/** The chance that a random non-digit scores below a random digit (ties count half). */
export function auroc(digits: number[], nonDigits: number[]): number {
  if (!digits.length || !nonDigits.length) return NaN;
  const all = [...digits.map((s) => [s, 1]), ...nonDigits.map((s) => [s, 0])].sort((a, b) => a[0] - b[0]);
  let rankSum = 0;
  for (let i = 0; i < all.length;) {
    let j = i;
    while (j < all.length && all[j][0] === all[i][0]) j++;
    for (let k = i; k < j; k++) if (all[k][1]) rankSum += (i + j + 1) / 2;
    i = j;
  }
  return (rankSum - (digits.length * (digits.length + 1)) / 2) / (digits.length * nonDigits.length);
}

export interface MnistPngsResult { images: number; right: number; accuracy: number; noDigit: number; notDigit: number; errors: number; passthrough: number }

/**
 * The 10,000 MNIST test digits as 28×28 grey PNGs through the server's path (our PNG decoder,
 * preprocessing, batching, the model): they must keep the model's offline accuracy. A digit the score
 * refuses counts as wrong.
 */
export async function evaluateMnistPngs(predictor: Predictor, test: Dataset, concurrency = 64): Promise<MnistPngsResult> {
  const r: MnistPngsResult = { images: test.count, right: 0, accuracy: 0, noDigit: 0, notDigit: 0, errors: 0, passthrough: 0 };
  await forEachLimited(test.count, concurrency, async (i) => {
    const png = await sharp(test.images.subarray(i * PIXELS, (i + 1) * PIXELS), { raw: { width: IMAGE_SIZE, height: IMAGE_SIZE, channels: 1 } }).png().toBuffer();
    try {
      const res = await predictor.predictBytes(new Uint8Array(png));
      if (res.info.path === 'passthrough') r.passthrough++;
      if (res.prediction.isDigit === false) { r.noDigit++; r.notDigit++; } else if ((res.prediction.number ?? String(res.prediction.digit)) === String(test.labels[i])) r.right++;
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

/** Rows of 784 stacked into one array. */
export const stack = (rows: Float32Array[]) => {
  const out = new Float32Array(rows.length * PIXELS);
  rows.forEach((r, i) => out.set(r, i * PIXELS));
  return out;
};

/** Runs `f` over 0..n-1 with at most `limit` calls in flight. */
export async function forEachLimited(n: number, limit: number, f: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(Array.from({ length: Math.min(limit, n) }, async () => {
    while (next < n) await f(next++);
  }));
}

/**
 * Renders every condition's uploads from MNIST test digits with `seed`, and the non-digit marks of every
 * family, sends each through `predictor` (the server's decode, preprocessing and model, asked with
 * notDigit 'flag') and counts right answers, refusals (IMAGE_NO_DIGIT, or a digit score under the line)
 * and errors.
 */
export async function evaluateUploads(predictor: Predictor, test: Dataset, opts: UploadsOptions,
  onExample: (e: UploadExample) => void = () => {}): Promise<UploadsReport> {
  const scores: ScoreSample = { digits: [], tuned: [], heldOut: [] };
  const calibration = createEceAccumulator();
  const run = async (condition: (typeof UPLOAD_CONDITIONS)[number] | (typeof EMPTY_CONDITIONS)[number] | LayoutFamily, n: number, hasDigit: boolean): Promise<ConditionResult> => {
    const r: ConditionResult = { condition, images: n, right: 0, wrong: 0, noDigit: 0, notDigit: 0, errors: {}, accuracy: 0, meanMs: 0 };
    let ms = 0;
    await forEachLimited(n, opts.concurrency, async (i) => {
      const rng = createRng(uploadSeed(opts.seed, condition, i));
      const index = rng.int(test.count);
      const label = hasDigit ? test.labels[index] : null;
      const layout = (LAYOUT_FAMILIES as readonly string[]).includes(condition);
      const upload = layout ? renderLayout(condition as LayoutFamily, { sample: digitSampler(test.images, index), cols: IMAGE_SIZE, rows: IMAGE_SIZE }, rng)
        : renderUpload(condition as (typeof UPLOAD_CONDITIONS)[number], test.images, index, rng);
      const bytes = await encodeUpload(upload);
      const t0 = performance.now();
      const v = await verdict(predictor, bytes);
      ms += performance.now() - t0;
      // The digit scores of the conditions' digits are the ones the non-digit marks are set against.
      if (hasDigit && !layout && !Number.isNaN(v.score)) scores.digits.push(v.score);
      let answer: string;
      if (v.kind === 'digit') {
        // Read as several digits is wrong for one digit, whatever the leftmost is.
        answer = v.number;
        if (v.number === String(label)) r.right++;
        else r.wrong++;
        if (hasDigit && !layout) calibration.add(v.probability, v.number === String(label));
      } else {
        answer = v.code;
        if (v.code === 'IMAGE_NO_DIGIT') r.noDigit++;
        else r.errors[v.code] = (r.errors[v.code] ?? 0) + 1;
        if (v.notDigit) r.notDigit++;
      }
      const right = hasDigit ? answer === String(label) : answer === 'IMAGE_NO_DIGIT';
      if (i < opts.examples || !right) onExample({ condition, index: i, label, answer, right, bytes, input28: v.input28 });
    });
    r.accuracy = (hasDigit ? r.right : r.noDigit) / n;
    r.meanMs = Number((ms / n).toFixed(1));
    r.accuracy = Number(r.accuracy.toFixed(4));
    return r;
  };
  const runFamily = async (family: NonDigitFamily): Promise<NonDigitResult> => {
    const heldOut = (HELD_OUT_FAMILIES as readonly string[]).includes(family);
    const r: NonDigitResult = { family, heldOut, images: opts.perNonDigitFamily, refused: 0, noDigit: 0, notDigit: 0, answered: {}, accuracy: 0 };
    await forEachLimited(opts.perNonDigitFamily, opts.concurrency, async (i) => {
      const { upload, condition } = renderNonDigitUpload(family, opts.seed, i);
      const bytes = await encodeUpload(upload);
      const v = await verdict(predictor, bytes);
      if (!Number.isNaN(v.score)) (heldOut ? scores.heldOut : scores.tuned).push(v.score);
      if (v.kind === 'refused') {
        r.refused++;
        if (v.notDigit) r.notDigit++;
        else r.noDigit++;
      } else {
        r.answered[v.digit] = (r.answered[v.digit] ?? 0) + 1;
      }
      const answer = v.kind === 'digit' ? String(v.digit) : v.code;
      if (i < opts.examples || v.kind === 'digit') onExample({ condition: `${family}/${condition}`, index: i, label: null, answer, right: v.kind === 'refused', bytes, input28: v.input28 });
    });
    r.accuracy = Number((r.refused / r.images).toFixed(4));
    return r;
  };
  const conditions: ConditionResult[] = [];
  const wanted = (c: string) => !opts.only || opts.only.includes(c);
  for (const c of UPLOAD_CONDITIONS.filter(wanted)) conditions.push(await run(c, opts.perCondition, true));
  const empty: ConditionResult[] = [];
  for (const c of EMPTY_CONDITIONS.filter(wanted)) empty.push(await run(c, opts.perEmptyCondition, false));
  const layouts: LayoutResult[] = [];
  for (const f of LAYOUT_FAMILIES.filter(wanted)) layouts.push({ ...(await run(f, opts.perLayout, true)), heldOut: (HELD_OUT_LAYOUTS as readonly string[]).includes(f) });
  const nonDigits: NonDigitResult[] = [];
  for (const f of NON_DIGIT_FAMILIES.filter(wanted)) nonDigits.push(await runFamily(f));
  const layoutShare = (held: boolean) => {
    const ls = layouts.filter((l) => l.heldOut === held);
    const n = ls.reduce((t, l) => t + l.images, 0);
    return { share: n ? Number((ls.reduce((t, l) => t + l.right, 0) / n).toFixed(4)) : NaN, worst: ls.length ? Math.min(...ls.map((l) => l.accuracy)) : NaN };
  };
  const images = conditions.reduce((s, c) => s + c.images, 0);
  const right = conditions.reduce((s, c) => s + c.right, 0);
  const worst = conditions.reduce<ConditionResult | undefined>((a, b) => (!a || b.accuracy < a.accuracy ? b : a), undefined);
  const share = (held: boolean) => {
    const fs = nonDigits.filter((f) => f.heldOut === held);
    const n = fs.reduce((s, f) => s + f.images, 0);
    return n ? Number((fs.reduce((s, f) => s + f.refused, 0) / n).toFixed(4)) : NaN;
  };
  return {
    seed: opts.seed, conditions, layouts, empty, nonDigits,
    layoutSummary: { tuned: layoutShare(false).share, heldOut: layoutShare(true).share, worstTuned: layoutShare(false).worst, worstHeldOut: layoutShare(true).worst },
    overall: { images, right, accuracy: Number((images ? right / images : 0).toFixed(4)), ece: Number(calibration.value().toFixed(4)), worstCondition: worst?.condition ?? '', worstAccuracy: worst?.accuracy ?? 0 },
    emptyRefused: { images: empty.reduce((s, c) => s + c.images, 0), refused: empty.reduce((s, c) => s + c.noDigit, 0) },
    nonDigitRefused: {
      tuned: share(false), heldOut: share(true),
      aurocTuned: Number(auroc(scores.digits, scores.tuned).toFixed(4)), aurocHeldOut: Number(auroc(scores.digits, scores.heldOut).toFixed(4)),
    },
    scores,
  };
}
